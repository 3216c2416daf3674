"""`medai deid text / evaluate / dicom / train-tagger` end to end, with bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medai.cli.main import main
from tests.privacy.conftest import GOLD


def test_text_evaluate_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "notes.csv"
    src.write_text('id,patient_id,text\n1,P1,"Mr. John Smith seen 03/05/2023."\n'
                   '2,P1,"Smith, John returns 03/19/2023."\n3,P2,\n')  # fmt: skip
    key = tmp_path / "key.txt"
    key.write_text("a-long-secret-key-for-tests")
    out = tmp_path / "out.jsonl"
    assert main(["deid", "text", str(src), "-o", str(out), "--mode", "surrogate", "--engine",
                 "serial", "--key-file", str(key), "--standoff", str(tmp_path / "a.jsonl")]) == 0  # fmt: skip
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 2 and "Smith" not in rows[0]["text"] + rows[1]["text"]
    assert "1 notes could not be processed" in capsys.readouterr().err
    # bad inputs: exit 2, nothing written
    for args in (["--mode", "blur"], ["--types", "NAMES"], ["--lang", "fr"], ["--engine", "x"],
                 ["--key-file", str(tmp_path / "missing")]):  # fmt: skip
        target = tmp_path / "bad.jsonl"
        assert main(["deid", "text", str(src), "-o", str(target), *args]) == 2
        assert not target.exists()
    assert main(["deid", "text", str(tmp_path / "nope"), "-o", str(tmp_path / "x.jsonl")]) == 2
    capsys.readouterr()
    scores = tmp_path / "scores.json"
    assert main(["deid", "evaluate", str(GOLD / "dev_zh.jsonl"), "-o", str(scores)]) == 0
    data = json.loads(scores.read_text())
    assert data["n_notes"] == 150 and data["token"]["recall"] > 0.9
    assert "token (any type)" in capsys.readouterr().out
    bad = tmp_path / "bad_gold.jsonl"
    bad.write_text('{"id": 1}\n')
    assert main(["deid", "evaluate", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_evaluate_a_standoff_file(tmp_path: Path) -> None:
    gold = GOLD / "dev_en.jsonl"
    audit = tmp_path / "audit.jsonl"
    assert main(["deid", "text", str(gold), "-o", str(tmp_path / "o.jsonl"), "--engine",
                 "serial", "--standoff", str(audit)]) == 0  # fmt: skip
    scores = tmp_path / "s.json"
    assert main(["deid", "evaluate", str(gold), "--pred", str(audit), "-o", str(scores)]) == 0
    assert json.loads(scores.read_text())["span_partial"]["recall"] > 0.9


def test_dicom_and_train_tagger(tmp_path: Path) -> None:
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    out = tmp_path / "ct.dcm"
    assert main(["deid", "dicom", get_testdata_file("CT_small.dcm"), str(out)]) == 0
    assert pydicom.dcmread(out).PatientIdentityRemoved == "YES"
    junk = tmp_path / "junk.dcm"
    junk.write_text("hello")
    assert main(["deid", "dicom", str(junk), str(tmp_path / "j.dcm")]) == 2
    models = tmp_path / "models"
    gold = tmp_path / "gold.jsonl"
    lines = (GOLD / "train_zh.jsonl").read_text(encoding="utf-8").splitlines()[:20]
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["deid", "train-tagger", "-o", str(models), "--lang", "zh", "--gold", str(gold),
                 "--synthetic", "20"]) == 0  # fmt: skip
    assert (models / "tagger_zh.crfsuite").exists()
    # English asked for, but no English gold and no synthetic notes
    assert main(["deid", "train-tagger", "-o", str(models), "--lang", "en", "--gold", str(gold),
                 "--synthetic", "0"]) == 2  # fmt: skip
    assert main(["deid", "train-tagger", "-o", str(models), "--lang", "fr"]) == 2
