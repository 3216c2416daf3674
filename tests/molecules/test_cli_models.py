"""`medai mol train / predict / evaluate` end to end on a slice of ESOL."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from medai.cli.main import main
from tests.conftest import SHARED_DATA

ESOL = SHARED_DATA / "molecules" / "esol_delaney.csv"


@pytest.mark.skipif(not ESOL.exists(), reason="../shared/data/molecules absent")
def test_train_predict_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "esol.csv"
    data.write_text("".join(ESOL.read_text().splitlines(keepends=True)[:161]))
    bundle = tmp_path / "model"
    args = ["mol", "train", str(data), "-t", "logp", "--model", "lightgbm", "-o", str(bundle)]
    assert main(args) == 0
    assert (bundle / "report.html").exists()
    new = tmp_path / "new.csv"
    new.write_text("smiles\nCCO\nnot-a-smiles\nc1ccccc1O\n")
    preds = tmp_path / "preds.csv"
    assert main(["mol", "predict", str(bundle), str(new), "-o", str(preds)]) == 0
    rows = list(csv.DictReader(preds.open()))
    assert len(rows) == 3 and rows[1]["error"] and not rows[0]["error"]
    assert 0.0 <= float(rows[0]["nn_similarity"]) <= 1.0
    assert main(["mol", "evaluate", str(bundle), str(data), "-o", str(tmp_path / "r.html")]) == 0
    capsys.readouterr()
    assert main(["mol", "train", str(data), "-t", "nope", "-o", str(tmp_path / "m2")]) == 2
    assert "nope" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("weight\n12.5\n")
    assert main(["mol", "predict", str(bundle), str(bad)]) == 2
    assert not (tmp_path / "m2").exists()


def test_explain_and_generate_cli(
    nci_logp: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("lightgbm")
    bundle = tmp_path / "model"
    assert main(["mol", "train", str(nci_logp), "-t", "logp", "--model", "lightgbm",
                 "-o", str(bundle)]) == 0  # fmt: skip
    mols = tmp_path / "mols.csv"
    mols.write_text("id,smiles\nasp,CC(=O)Oc1ccccc1C(=O)O\nbroken,C1CC\noct,CCCCCCCCO\n")
    report, atoms, maps = tmp_path / "ex.html", tmp_path / "atoms.csv", tmp_path / "maps"
    assert main(["mol", "explain", str(bundle), str(mols), "-o", str(report),
                 "--atoms", str(atoms), "--svg-dir", str(maps)]) == 0  # fmt: skip
    assert "broken" in capsys.readouterr().err
    html = report.read_text()
    assert "data:image/png;base64" in html and "unclosed" in html
    rows = list(csv.DictReader(atoms.open()))
    assert {r["id"] for r in rows} == {"asp", "oct"} and len(rows) == 13 + 9
    assert sorted(p.name for p in maps.iterdir()) == ["0001_asp_logp.svg", "0003_oct_logp.svg"]
    assert main(["mol", "explain", str(bundle), "-o", str(report)]) == 2  # no molecules

    scores = tmp_path / "scores.csv"
    assert main(["mol", "score", str(bundle), str(mols), "-o", str(scores),
                 "--batch-size", "2"]) == 0  # fmt: skip
    scored = list(csv.DictReader(scores.open()))
    assert [r["id"] for r in scored] == ["asp", "oct"]  # the broken row is reported, not scored
    assert {"pred_logp", "std_logp", "nn_similarity", "in_domain"} <= set(scored[0])
    assert "unclosed" in capsys.readouterr().err

    cand, hist, page = tmp_path / "cand.csv", tmp_path / "hist.csv", tmp_path / "gen.html"
    args = ["mol", "generate", "-s", "OC(=O)c1ccccc1N", "-m", str(bundle), "--generations", "3",
            "--population", "20", "--offspring", "40", "--property-range", "-2", "6",
            "-o", str(cand), "--history", str(hist), "--html", str(page), "--top", "15"]  # fmt: skip
    assert main(args) == 0
    out = list(csv.DictReader(cand.open()))
    assert len(out) == 15 and "pred_logp" in out[0]
    assert float(out[0]["objective"]) >= float(out[-1]["objective"])
    assert len(list(csv.DictReader(hist.open()))) == 4 and page.exists()
    capsys.readouterr()
    # without a range the training labels' mean +- 2 sd (in the card) is used
    auto = tmp_path / "auto.csv"
    assert main(["mol", "generate", "-s", "CCO", "-m", str(bundle), "-o", str(auto),
                 "--generations", "1", "--population", "5", "--offspring", "5"]) == 0  # fmt: skip
    bad = tmp_path / "bad.csv"
    assert main(["mol", "generate", "-s", "CCO", "-m", str(bundle), "-o", str(bad),
                 "--property-range", "5", "1"]) == 2  # fmt: skip
    assert "lo < hi" in capsys.readouterr().err and not bad.exists()
    assert main(["mol", "generate", "-s", "C1CC", "-o", str(bad)]) == 2
    assert main(["mol", "generate", "-o", str(bad)]) == 2
