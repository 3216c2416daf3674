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
