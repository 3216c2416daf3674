"""`medai text extract` end to end: formats, bad input, exit codes, atomic output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from medai.cli.main import main


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "en.txt").write_text("Denies chest pain. Metoprolol 25 mg PO BID.\n")
    (folder / "zh.txt").write_bytes("患者无发热，否认胸痛。".encode("gb18030"))
    (folder / "empty.txt").write_text("")
    return folder


def test_extract_jsonl(notes: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["text", "extract", str(notes), "--out", str(out)]) == 0
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["empty"]["error"] == "empty note"
    assert rows["zh"]["lang"] == "zh"
    assert rows["zh"]["concepts"] and all(c["negated"] for c in rows["zh"]["concepts"])
    assert rows["en"]["medications"][0]["per_day"] == 2


def test_extract_csv_and_html(notes: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert main(["text", "extract", str(notes / "en.txt"), "-f", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    kinds = {r["kind"] for r in rows}
    assert kinds == {"concept", "medication"}
    assert any(r["text"] == "chest pain" and r["negated"] == "True" for r in rows)
    page = tmp_path / "out.html"
    assert main(["text", "extract", str(notes), "-f", "html", "-o", str(page)]) == 0
    assert "chest pain" in page.read_text()


def test_bad_input_exit_2_and_nothing_written(
    notes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.jsonl"
    assert main(["text", "extract", str(notes), "--lang", "klingon", "-o", str(out)]) == 2
    assert "unknown language 'klingon'" in capsys.readouterr().err
    assert main(["text", "extract", str(tmp_path / "missing.txt"), "-o", str(out)]) == 2
    assert main(["text", "extract", str(notes), "-f", "xml", "-o", str(out)]) == 2
    lex = tmp_path / "lex.csv"
    lex.write_text("term,label\n,finding\n")
    assert main(["text", "extract", str(notes), "--lexicon", str(lex), "-o", str(out)]) == 2
    assert "bad row" in capsys.readouterr().err
    assert not out.exists()
    assert list(tmp_path.glob(".o.jsonl*")) == []
