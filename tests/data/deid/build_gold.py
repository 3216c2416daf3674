"""Build the de-identification gold standard (JSONL with standoff spans) from marked-up notes.

Source files ``src/<split>_<lang>_<author>.txt`` hold notes written by hand for these tests:

    ### note en-a-001 patient=P001
    Mr. [[NAME|John Smith]] was seen on [[DATE|03/05/2023]] ...

A note runs from its ``### note ID patient=PID`` header to the next header; PHI is marked
``[[TYPE|text]]``. This script removes the markup and writes ``<split>_<lang>.jsonl`` with one
note per line: ``{"id", "patient_id", "lang", "text", "spans": [{"start", "end", "type",
"text"}], "source"}`` (offsets in characters of ``text``, end exclusive).

Splits: ``test`` notes are never used to build or tune medai's de-identification; ``dev``
notes may be used for tuning; ``train`` notes train the bundled CRF taggers.

Run: ``python tests/data/deid/build_gold.py`` (checks every file; exits 1 on a problem).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TYPES = (
    "NAME",  # patients, relatives, clinicians, any person
    "DATE",  # any date element more specific than the year (day, month+day, full dates)
    "AGE",  # ages over 89 only
    "PHONE",  # phone and fax numbers
    "EMAIL",
    "URL",
    "IP",
    "SSN",  # US social security numbers
    "ID_CARD",  # Chinese resident identity card numbers (18 characters, checksum)
    "ID",  # medical record, account, health plan, licence, device, 住院号/门诊号/病案号 ...
    "ADDRESS",  # street addresses; Chinese addresses (province to house number) as one span
    "CITY",  # cities, towns, counties, districts mentioned outside a full address
    "ZIP",  # ZIP / postal codes
    "INSTITUTION",  # hospitals, clinics, practices; Chinese 医院 (+ attached 科室)
)
HERE = Path(__file__).resolve().parent
HEADER = re.compile(r"^### note (\S+) patient=(\S+)\s*$")
MARK = re.compile(r"\[\[([A-Z_]+)\|(.*?)\]\]", re.S)


def parse_note(body: str, where: str) -> tuple[str, list[dict]]:
    text, spans, pos = [], [], 0
    out_len = 0
    for m in MARK.finditer(body):
        plain = body[pos : m.start()]
        text.append(plain)
        out_len += len(plain)
        kind, value = m.group(1), m.group(2)
        if kind not in TYPES:
            raise ValueError(f"{where}: unknown PHI type {kind!r} (use one of {TYPES})")
        if not value.strip() or value != value.strip():
            raise ValueError(f"{where}: empty or space-padded PHI value {value!r}")
        if "[[" in value or ("|" in value and kind not in ("URL",)):
            raise ValueError(f"{where}: nested markup or '|' in {value!r}")
        spans.append({"start": out_len, "end": out_len + len(value), "type": kind, "text": value})
        text.append(value)
        out_len += len(value)
        pos = m.end()
    text.append(body[pos:])
    plain = "".join(text)
    if "[[" in plain or "]]" in plain:
        raise ValueError(f"{where}: unbalanced markup left in the text")
    return plain, spans


def parse_file(path: Path) -> list[dict]:
    split, lang = path.stem.split("_")[:2]
    notes, current, lines = [], None, []

    def flush() -> None:
        if current is None:
            return
        body = "\n".join(lines).strip("\n")
        text, spans = parse_note(body, f"{path.name} note {current[0]}")
        if not text.strip():
            raise ValueError(f"{path.name} note {current[0]} is empty")
        notes.append(
            {
                "id": current[0],
                "patient_id": current[1],
                "lang": lang,
                "text": text,
                "spans": spans,
                "source": path.name,
                "split": split,
            }
        )

    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = HEADER.match(line)
        if m:
            flush()
            current, lines = (m.group(1), m.group(2)), []
        elif line.startswith("###"):
            raise ValueError(f"{path.name} line {i}: malformed header {line!r}")
        elif current is None:
            if line.strip():
                raise ValueError(f"{path.name} line {i}: text before the first note header")
        else:
            lines.append(line)
    flush()
    return notes


def main() -> int:
    groups: dict[tuple[str, str], list[dict]] = {}
    ids: set[str] = set()
    try:
        for path in sorted((HERE / "src").glob("*_*.txt")):
            for note in parse_file(path):
                if note["id"] in ids:
                    raise ValueError(f"duplicate note id {note['id']} ({path.name})")
                ids.add(note["id"])
                groups.setdefault((note["split"], note["lang"]), []).append(note)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for (split, lang), notes in sorted(groups.items()):
        out = HERE / f"{split}_{lang}.jsonl"
        with out.open("w", encoding="utf-8") as fh:
            for note in notes:
                fh.write(json.dumps(note, ensure_ascii=False) + "\n")
        counts: dict[str, int] = {}
        for note in notes:
            for s in note["spans"]:
                counts[s["type"]] = counts.get(s["type"], 0) + 1
        print(f"{out.name}: {len(notes)} notes, {sum(counts.values())} PHI spans {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
