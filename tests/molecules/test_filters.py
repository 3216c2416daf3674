"""medai.molecules.filters, .draw and `medai mol filter` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from medai.cli.main import main
from medai.core.errors import InvalidInputError
from medai.molecules.draw import grid_svg, mol_svg
from medai.molecules.filters import filter_molecules, find_alerts

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
RHODANINE = "O=C1C(=Cc2ccccc2)SC(=S)N1"  # 5-benzylidene rhodanine, a classic PAINS
CATECHOL = "Oc1ccccc1O"
CICLOSPORIN = (
    "CC[C@H]1C(=O)N(CC(=O)N([C@H](C(=O)N[C@H](C(=O)N([C@H](C(=O)N[C@H](C(=O)N[C@@H](C(=O)"
    "N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N1)[C@@H]([C@H](C)C/C=C/C)O)C)C(C)C)"
    "C)CC(C)C)C)CC(C)C)C)C)C)CC(C)C)C)C(C)C)CC(C)C)C)C"
)


def test_drug_rules_and_alerts() -> None:
    mols = [Chem.MolFromSmiles(s) for s in (ASPIRIN, RHODANINE, CATECHOL, CICLOSPORIN)]
    df = filter_molecules(mols, max_sa=6, min_qed=0.3)
    assert len(df) == 4
    aspirin, rhodanine, catechol, ciclosporin = (df.iloc[i] for i in range(4))
    assert aspirin["lipinski_pass"] and aspirin["lipinski_violations"] == 0
    assert aspirin["veber_pass"] and aspirin["pains_alerts"] == ""
    assert aspirin["mw"] == pytest.approx(180.16, abs=0.01) and aspirin["hbd"] == 1
    assert 1 <= aspirin["sa_score"] <= 3 and 0.5 < aspirin["qed"] < 0.6
    assert "ene_rhod_A" in rhodanine["pains_alerts"] and not rhodanine["pains_pass"]
    assert "pains" in rhodanine["failed"] and not rhodanine["passes"]
    assert "catechol_A" in catechol["pains_alerts"] and "catechol" in catechol["brenk_alerts"]
    assert ciclosporin["lipinski_violations"] >= 2 and not ciclosporin["lipinski_pass"]
    assert not ciclosporin["veber_pass"] and not ciclosporin["qed_pass"]
    assert (df["errors"] == "").all()
    alert = find_alerts(mols[1], "pains")[0]
    assert alert.family == "PAINS_A" and len(alert.atoms) >= 5


def test_rule_subset_and_bad_options() -> None:
    df = filter_molecules([Chem.MolFromSmiles(ASPIRIN)], "lipinski,veber")
    assert "pains_alerts" not in df.columns and bool(df["passes"].iloc[0])
    with pytest.raises(InvalidInputError, match="unknown rule"):
        filter_molecules([], "lipinski,lead-like")
    with pytest.raises(InvalidInputError, match="max_sa needs"):
        filter_molecules([], "lipinski", max_sa=5)


def test_svg_is_embeddable() -> None:
    mols = [Chem.MolFromSmiles(s) for s in (ASPIRIN, RHODANINE)]
    svg = grid_svg(mols, ["<script>alert(1)</script>", "b"], highlight_atoms=[[], [0, 1, 2]])
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<script" not in svg and "<?xml" not in svg
    single = mol_svg(mols[0], atom_weights=[0.5] * 6 + [-0.5] * 7)
    assert single.startswith("<svg")
    with pytest.raises(InvalidInputError, match="one per atom"):
        mol_svg(mols[0], atom_weights=[1.0])


def test_cli_filter_end_to_end(
    small_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, page = tmp_path / "out.csv", tmp_path / "report.html"
    code = main(["mol", "filter", str(small_csv), "--out", str(out), "--html", str(page),
                 "--max-sa", "6"])  # fmt: skip
    assert code == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert df["row"].tolist() == list(range(1, 10))  # every input row, in file order
    status = dict(zip(df["id"], df["status"], strict=True))
    assert status["unclosed"] == status["pentavalent"] == status["empty"] == "rejected"
    assert status["aspirin"] == status["aspirin_na"] == "ok"  # duplicates kept
    reason = df.set_index("id").loc["pentavalent", "reason"]
    assert reason.startswith("sanitisation failed")
    assert df.set_index("id").loc["aspirin", "lipinski_pass"] == "True"
    err = capsys.readouterr().err
    assert "3 rows rejected" in err and "row 6 (id unclosed)" in err
    text = page.read_text()
    assert "Molecules failing a rule" in text and "<svg" in text and "lipinski" in text


def test_cli_rejected_file_and_json(small_csv: Path, tmp_path: Path) -> None:
    out, bad = tmp_path / "out.json", tmp_path / "bad.csv"
    args = ["mol", "filter", str(small_csv), "-o", str(out), "--rejected", str(bad)]
    assert main([*args, "--rules", "lipinski,pains"]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok"}
    assert pd.read_csv(bad)["row"].tolist() == [6, 7, 8]


def test_cli_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "x.csv"
    data.write_text("compound,pIC50\nCCO,5.2\n")
    out = tmp_path / "out.csv"
    assert main(["mol", "filter", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no SMILES column" in err and "['compound', 'pIC50']" in err
    assert main(["mol", "filter", str(data), "--smiles-col", "compound", "-o", "o.txt"]) == 2
    assert "must end in .csv" in capsys.readouterr().err
    assert main(["mol", "filter", str(data), "-o", str(out), "--rules", "lipinski,zzz"]) == 2
    assert main(["mol", "filter", str(tmp_path / "none.csv"), "-o", str(out)]) == 2
    assert main(["mol", "filter", str(data), "-o", str(out), "--min-qed", "2"]) == 2
    assert not out.exists()
    assert list(tmp_path.glob(".out*")) == []
