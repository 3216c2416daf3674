"""Fixtures for the molecule tests: a small inline set with the usual troubles, shared data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

if importlib.util.find_spec("rdkit") is None:  # the molecules extra is not installed
    collect_ignore_glob = ["test_*.py"]

MOLECULES_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "molecules"
ESOL = MOLECULES_DATA / "esol_delaney.csv"

#: (id, SMILES, label) rows: salts, charges, duplicates (same molecule written differently),
#: and rows RDKit rejects; the comment says what each row tests.
SMALL_ROWS: list[tuple[str, str, str]] = [
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O", "1.0"),
    ("aspirin_na", "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]", "3.0"),  # salt of the same acid
    ("aspirin_kek", "CC(=O)OC1=CC=CC=C1C(O)=O", "5.0"),  # Kekulé form of the same molecule
    ("methylammonium_cl", "C[NH3+].[Cl-]", "2.0"),  # charged + counterion
    ("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", ""),  # missing label
    ("unclosed", "C1CC", "1.0"),  # syntax error
    ("pentavalent", "C(C)(C)(C)(C)C", "1.0"),  # sanitisation error
    ("empty", "", "1.0"),
    ("ethanol", "OCC", "0.5"),
]


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    """The inline rows as a CSV with columns id, smiles, y."""
    path = tmp_path / "small.csv"
    lines = ["id,smiles,y"] + [",".join(r) for r in SMALL_ROWS]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def esol_path() -> Path:
    if not ESOL.exists():
        pytest.skip(f"shared data {ESOL} is absent")
    return ESOL


@pytest.fixture(scope="session")
def esol_smiles(esol_path: Path) -> list[str]:
    import pandas as pd

    return [str(s) for s in pd.read_csv(esol_path)["smiles"]]


@pytest.fixture(scope="session")
def nci_logp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 molecules of RDKit's bundled NCI set (RDDataDir) with Crippen logP as the label.

    A real, known structure-property relation: per-atom explanations of a model trained on it
    should follow Crippen's per-atom contributions.
    """
    import pandas as pd
    from rdkit import Chem, RDConfig
    from rdkit.Chem import Crippen

    src = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    rows = []
    for line in src.read_text().splitlines()[:800]:
        smi = line.split()[0] if line.strip() else ""
        mol = Chem.MolFromSmiles(smi) if smi else None
        if mol is not None and 5 <= mol.GetNumHeavyAtoms() <= 40:
            rows.append((smi, Crippen.MolLogP(mol)))
    path = tmp_path_factory.mktemp("nci") / "nci_logp.csv"
    pd.DataFrame(rows[:600], columns=["smiles", "logp"]).to_csv(path, index=False)
    return path
