"""medai.molecules.io: readers, rejections by row with reasons, standardisation, duplicates."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from medai.core.errors import DataFileError, SchemaError
from medai.molecules.io import parse_smiles, read_molecules, standardize_mol


def test_parse_smiles_reasons_per_row() -> None:
    inputs = ["CCO", "C1CC", "CC(C", "C(C)(C)(C)(C)C", "c1cccc1", "", "C" * 2000, "c1ccccc1"]
    mols, rejected = parse_smiles(inputs)
    assert [m is not None for m in mols] == [True, False, False, False, False, False, False, True]
    reasons = {r.row: r.reason for r in rejected}
    assert reasons[2] == "invalid SMILES: unclosed ring"
    assert reasons[3].startswith("invalid SMILES: extra open parentheses")
    assert reasons[4].startswith("sanitisation failed: Explicit valence for atom # 0 C, 5")
    assert reasons[5].startswith("sanitisation failed: Can't kekulize")
    assert reasons[6] == "empty SMILES"
    assert reasons[7] == "2000 atoms, over the limit of 1000"
    assert [r.input for r in rejected][:2] == ["C1CC", "CC(C"]


def test_parse_smiles_is_silent(capfd: pytest.CaptureFixture[str]) -> None:
    parse_smiles(["C1CC", "CX"])
    assert capfd.readouterr().err == ""  # RDKit's C++ log is blocked while parsing


def test_standardize_strips_salt_neutralises_and_agrees() -> None:
    def std(smi: str) -> str:
        return Chem.MolToSmiles(standardize_mol(Chem.MolFromSmiles(smi)))

    assert std("CC(=O)Oc1ccccc1C(=O)[O-].[Na+]") == std("CC(=O)Oc1ccccc1C(=O)O")
    assert std("C[NH3+].[Cl-]") == "CN"
    assert std("CC(=O)OC1=CC=CC=C1C(O)=O") == std("O=C(O)c1ccccc1OC(C)=O")
    # tautomers: 2-hydroxypyridine and 2-pyridone become one
    taut = {Chem.MolToSmiles(standardize_mol(Chem.MolFromSmiles(s), tautomer=True))
            for s in ("Oc1ccccn1", "O=c1cccc[nH]1")}  # fmt: skip
    assert len(taut) == 1


def test_read_csv_rejections_and_merge(small_csv: Path) -> None:
    table = read_molecules(small_csv, label_cols=["y"])
    assert {(r.row, r.id) for r in table.rejected} == {
        (6, "unclosed"),
        (7, "pentavalent"),
        (8, "empty"),
    }
    assert table.rejected_frame().columns.tolist() == ["row", "id", "input", "reason"]
    # the three aspirin rows merge into row 1 with the mean label
    aspirin = Chem.MolToSmiles(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    assert table.smiles.count(aspirin) == 1
    row = table.frame.set_index("smiles").loc[aspirin]
    assert row["id"] == "aspirin" and row["row"] == 1 and row["n_rows"] == 3
    assert row["y"] == pytest.approx(3.0) and row["y_std"] == pytest.approx(2.0)
    assert row["y_n"] == 3
    assert [(d.rows, d.ids) for d in table.duplicates] == [
        ((1, 2, 3), ("aspirin", "aspirin_na", "aspirin_kek"))
    ]
    assert "CN" in table.smiles and "[Cl-]" not in "".join(table.smiles)
    assert np.isnan(table.frame.set_index("id").loc["caffeine", "y"])
    # every input row is accounted for
    assert table.n_input == 9 == len(table) + len(table.rejected) + table.n_duplicate_rows
    assert len(table.mols) == len(table.ids) == len(table.frame) == 4


def test_dedupe_first_and_keep(small_csv: Path) -> None:
    first = read_molecules(small_csv, dedupe="first")
    assert len(first) == 4 and first.frame.loc[0, "y"] == 1.0
    keep = read_molecules(small_csv, dedupe="keep", standardize=False)
    assert len(keep) == 6  # salt and charged forms differ without standardisation
    assert [d.rows for d in keep.duplicates] == [(1, 3)]  # Kekulé form: same canonical SMILES


def test_no_smiles_column_names_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("compound,activity\nCCO,1\n")
    with pytest.raises(SchemaError, match=r"its columns are \['compound', 'activity'\]") as err:
        read_molecules(path)
    assert "no SMILES column" in str(err.value) and "--smiles-col" in str(err.value)
    assert len(read_molecules(path, smiles_col="compound")) == 1


def test_labels_not_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("smiles,y\nCCO,1.5\nCCC,high\nCCN,\nCCCl,n.d.\n")
    with pytest.raises(SchemaError, match=r"label column 'y'.*row 2 \('high'\), row 4 \('n.d.'\)"):
        read_molecules(path, label_cols=["y"])
    with pytest.raises(SchemaError, match="label column"):
        read_molecules(path, label_cols=["z"])


def test_smi_and_gzip_csv(tmp_path: Path) -> None:
    smi = tmp_path / "x.smi"
    smi.write_text("SMILES Name\nCCO ethanol\n\nC1CC broken\nc1ccccc1 benzene\n")
    table = read_molecules(smi)
    assert table.ids == ["ethanol", "benzene"] and table.rows == [1, 4]
    assert [(r.row, r.id) for r in table.rejected] == [(3, "broken")]
    gz = tmp_path / "x.csv.gz"
    gz.write_bytes(gzip.compress(b"smiles,label\nCCO,1\nCC(,0\n"))
    table = read_molecules(gz)
    assert table.smiles == ["CCO"] and table.rejected[0].row == 2


def test_sdf_properties_and_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "x.sdf"
    writer = Chem.SDWriter(str(path))
    for name, smi, y in [("eth", "CCO", "1.5"), ("empty", None, "2"), ("phenol", "Oc1ccccc1", "3")]:
        mol = Chem.MolFromSmiles(smi) if smi else Chem.Mol()
        mol.SetProp("_Name", name)
        mol.SetProp("y", y)
        writer.write(mol)
    writer.close()
    with path.open("a") as fh:  # a record that is not a molblock, and a pentavalent carbon
        fh.write("junk\n\n\nnot a counts line\n$$$$\n")
        bad = Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False)
        fh.write(Chem.MolToMolBlock(bad) + "$$$$\n")
    table = read_molecules(path, label_cols=["y"])
    assert table.ids == ["eth", "phenol"] and table.rows == [1, 3]
    assert table.frame["y"].tolist() == [1.5, 3.0]
    reasons = {r.row: r.reason for r in table.rejected}
    assert reasons[2] == "empty record (no atoms)"
    assert reasons[4].startswith("unreadable record")
    assert reasons[5].startswith("sanitisation failed: Explicit valence")


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="does not exist"):
        read_molecules(tmp_path / "nope.csv")
    other = tmp_path / "x.xlsx"
    other.write_text("x")
    with pytest.raises(DataFileError, match="unknown type"):
        read_molecules(other)


def test_esol_reads_every_row(esol_path: Path) -> None:
    table = read_molecules(esol_path, label_cols=["logp"])
    n_rows = len(pd.read_csv(esol_path))
    assert table.n_input == n_rows
    assert len(table) > 1100 and not table.rejected
    assert np.isfinite(table.labels()).all()


def test_standardisation_failure_is_a_rejection(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("smiles\nCCO\n[SbH6+3]\n")  # the uncharger would leave Sb with valence 9
    table = read_molecules(path)
    assert table.smiles == ["CCO"]
    assert table.rejected[0].row == 2
    assert table.rejected[0].reason.startswith("standardisation failed: Explicit valence")


def test_merge_class_labels_by_majority(tmp_path: Path) -> None:
    """Duplicated 0/1 labels keep their class (majority); a tie is contradictory -> missing."""
    path = tmp_path / "bbbp.csv"
    path.write_text(
        "smiles,p_np,tox\n"
        "CCO,1,0\nOCC,1,1\n[Na+].CCO,0,1\n"  # ethanol: 2 x 1 vs 1 x 0 -> 1; tox 2 of 3 -> 1
        "CCN,1,0\nNCC,0,\n"  # ethylamine: tie -> missing; tox 0 (one blank)
        "CCC,0,1\n"
    )
    table = read_molecules(path, label_cols=["p_np", "tox"])
    frame = table.frame.set_index("smiles")
    assert frame.loc["CCO", "p_np"] == 1.0 and frame.loc["CCO", "tox"] == 1.0
    assert np.isnan(frame.loc["CCN", "p_np"]) and frame.loc["CCN", "tox"] == 0.0
    assert frame.loc["CCC", "p_np"] == 0.0
    assert set(np.unique(table.labels(["p_np"])[~np.isnan(table.labels(["p_np"]))])) <= {0, 1}
