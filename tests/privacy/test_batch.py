"""Batch de-identification: errors per note, resume without loss or duplicates, engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medai.core.errors import InvalidInputError
from medai.privacy.batch import deidentify_notes


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _notes(path: Path, n: int) -> Path:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"n{i}", "patient_id": f"P{i % 3}",
                                 "text": f"Mr. John Smith{i} seen 03/0{1 + i % 9}/2023."}) + "\n")  # fmt: skip
    return path


def test_errors_per_note_and_order(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Dr. Ann Lee saw the patient on 5/3/2023.")
    (folder / "b.txt").write_bytes(b"\xff\xfe\x00\x00\x00binary\x00\x00\x00")
    (folder / "c.txt").write_text("   \n")
    (folder / "d.txt").write_text("患者张伟，男，45岁，于2023年5月3日入院。", encoding="gb18030")
    out = tmp_path / "out.jsonl"
    r = deidentify_notes(folder, out, engine="serial", tagger=None,
                         standoff=tmp_path / "audit.jsonl")  # fmt: skip
    rows, errors = _rows(out), _rows(r.errors)
    assert [x["id"] for x in rows] == ["a", "d"] and r.n_done == 2 and r.n_errors == 2
    assert rows[0]["text"] == "Dr. [NAME] saw the patient on [DATE]."
    assert rows[1]["lang"] == "zh" and "[NAME]" in rows[1]["text"]
    assert {e["id"]: e["error"] for e in errors}["c"] == "empty note"
    assert all("text" not in e for e in errors)  # an error record never carries the note
    audit = _rows(tmp_path / "audit.jsonl")
    assert [a["id"] for a in audit] == ["a", "d"] and audit[0]["spans"][0]["type"] == "NAME"


def test_resume_after_interruption(tmp_path: Path) -> None:
    src = _notes(tmp_path / "notes.jsonl", 40)
    out = tmp_path / "out.jsonl"
    # a run that died: a partial output with 10 notes and a torn last line
    first = deidentify_notes(src, out, engine="serial", tagger=None, key="k" * 20)
    full = _rows(out)
    partial = out.with_name(f".{out.name}.partial")
    lines = out.read_text().splitlines(keepends=True)
    partial.write_text("".join(lines[:10]) + lines[10][:15])
    out.unlink()
    r = deidentify_notes(src, out, engine="serial", tagger=None, key="k" * 20)
    assert r.n_skipped == 10 and r.n_done == 30 and not partial.exists()
    rows = _rows(out)
    assert sorted(x["id"] for x in rows) == sorted(x["id"] for x in full)  # none lost or twice
    assert first.n_done == 40
    again = deidentify_notes(src, out, engine="serial", tagger=None)  # all done: a no-op
    assert again.n_done == 0 and again.n_skipped == 40 and len(_rows(out)) == 40


def test_process_pool_matches_serial(tmp_path: Path) -> None:
    src = _notes(tmp_path / "notes.jsonl", 30)
    a = deidentify_notes(src, tmp_path / "a.jsonl", engine="serial", mode="surrogate",
                         key="k" * 20, tagger=None)  # fmt: skip
    b = deidentify_notes(src, tmp_path / "b.jsonl", engine="process", workers=2, chunk_size=4,
                         mode="surrogate", key="k" * 20, tagger=None)  # fmt: skip
    assert a.n_done == b.n_done == 30
    assert _rows(tmp_path / "a.jsonl") == _rows(tmp_path / "b.jsonl")  # same order and text


def test_bad_options(tmp_path: Path) -> None:
    src = _notes(tmp_path / "notes.jsonl", 2)
    for kwargs, msg in [({"engine": "spark"}, "engine"), ({"mode": "x"}, "mode"),
                        ({"types": "FOO"}, "FOO")]:  # fmt: skip
        with pytest.raises(InvalidInputError, match=msg):
            deidentify_notes(src, tmp_path / "o.jsonl", tagger=None, **kwargs)
    with pytest.raises(InvalidInputError, match=r"\.jsonl"):
        deidentify_notes(src, tmp_path / "o.csv", tagger=None)
    assert not (tmp_path / "o.jsonl").exists()


def test_ray_engine_when_installed(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    src = _notes(tmp_path / "notes.jsonl", 12)
    r = deidentify_notes(src, tmp_path / "r.jsonl", engine="ray", workers=2, chunk_size=3,
                         tagger=None)  # fmt: skip
    assert r.n_done == 12
