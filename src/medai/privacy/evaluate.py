"""Scoring de-identification against gold standoff annotations.

Readers (:func:`read_gold`):

* **JSONL** — one note per line: ``{"id", "text", "spans": [{"start", "end", "type"}]}``
  (``patient_id`` and ``lang`` optional); medai's own gold files in ``tests/data/deid``;
* **brat** — a folder of ``NAME.txt`` + ``NAME.ann`` (``T1<TAB>TYPE START END<TAB>text``;
  discontinuous ``START END;START END`` fragments become separate spans);
* **PhysioNet deid** — ``id.text`` (records ``START_OF_RECORD=PID||||NOTE||||`` ... text ...
  ``||||END_OF_RECORD``) with ``id-phi.phrase`` beside it (``PID NOTE START END TYPE
  phrase`` per line; offsets within the record's text). PhysioNet categories map to medai
  types (:data:`PHYSIONET_TYPES`).

Every problem names the file and line. Scores (:func:`score`):

* token level — tokens are words (``\\w+``) in English and characters in Chinese; a token is
  PHI if any span covers it. Binary precision/recall/F2 (any type), and per gold type the
  recall (covered by a prediction of any type: what matters for privacy) and per predicted
  type the precision (the token is gold PHI of any type);
* span level — a gold span counts as found when a prediction overlaps it (``partial``) or has
  the same boundaries (``exact``); a prediction is correct when it overlaps a gold span.

F2 weighs recall four times as much as precision: ``5 P R / (4 P + R)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medai.core.errors import DataFileError
from medai.privacy.phi import PHI_TYPES, Span

__all__ = ["PHYSIONET_TYPES", "GoldNote", "read_gold", "read_standoff", "score"]

#: PhysioNet deid categories -> medai types.
PHYSIONET_TYPES = {
    "PTNAME": "NAME", "PTNAMEINITIAL": "NAME", "RELATIVEPROXYNAME": "NAME", "HCPNAME": "NAME",
    "NAME": "NAME", "INITIALS": "NAME", "OTHERNAME": "NAME", "DATE": "DATE", "DATEYEAR": "DATE",
    "AGE": "AGE", "AGE>89": "AGE", "PHONE": "PHONE", "FAX": "PHONE", "PAGER": "PHONE",
    "EMAIL": "EMAIL", "URL": "URL", "IP": "IP", "SSN": "SSN", "MRN": "ID", "ID": "ID",
    "ACCOUNT": "ID", "LICENSE": "ID", "DEVICE": "ID", "HEALTHPLAN": "ID", "OTHER": "ID",
    "LOCATION": "ADDRESS", "ADDRESS": "ADDRESS", "STREET": "ADDRESS", "CITY": "CITY",
    "STATE": "CITY", "COUNTRY": "CITY", "ZIP": "ZIP", "HOSPITAL": "INSTITUTION",
    "ORGANIZATION": "INSTITUTION", "COMPANY": "INSTITUTION", "INSTITUTION": "INSTITUTION",
    "PROFESSION": "ID",
}  # fmt: skip


@dataclass
class GoldNote:
    """A note with its gold PHI spans."""

    id: str
    text: str
    spans: list[Span]
    patient_id: str | None = None
    lang: str | None = None


def _check_span(note_id: str, text: str, start: int, end: int, where: str) -> None:
    if not (0 <= start < end <= len(text)):
        raise DataFileError(f"{where}: span {start}-{end} of note {note_id!r} is outside its "
                            f"{len(text)} characters")  # fmt: skip


def _read_jsonl(path: Path) -> list[GoldNote]:
    notes = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:line {n}"
        try:
            obj = json.loads(line)
            note_id, text = str(obj["id"]), obj["text"]
            raw_spans = obj.get("spans", [])
            if not isinstance(text, str) or not isinstance(raw_spans, list):
                raise TypeError("text must be a string and spans a list")
            spans = []
            for s in raw_spans:
                start, end, kind = int(s["start"]), int(s["end"]), str(s["type"]).upper()
                _check_span(note_id, text, start, end, where)
                spans.append(Span(start, end, kind, text[start:end], "gold"))
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, DataFileError):
                raise
            raise DataFileError(f"{where}: not a gold note ({type(exc).__name__}: "
                                f"{str(exc)[:100]}); expected id, text, spans with start, "
                                "end, type") from None  # fmt: skip
        notes.append(GoldNote(note_id, text, spans, obj.get("patient_id"), obj.get("lang")))
    return notes


def _read_brat(folder: Path) -> list[GoldNote]:
    notes = []
    texts = sorted(folder.glob("*.txt"))
    if not texts:
        raise DataFileError(f"brat folder {str(folder)!r} has no .txt files")
    for txt in texts:
        text = txt.read_text(encoding="utf-8")
        ann = txt.with_suffix(".ann")
        spans = []
        if ann.exists():
            for n, line in enumerate(ann.read_text(encoding="utf-8").splitlines(), 1):
                if not line.startswith("T"):
                    continue  # relations, notes, attributes
                where = f"{ann}:line {n}"
                parts = line.split("\t")
                if len(parts) < 2:
                    raise DataFileError(f"{where}: expected 'T<n><TAB>TYPE START END<TAB>text'")
                kind, _, offsets = parts[1].partition(" ")
                for frag in offsets.split(";"):
                    m = re.fullmatch(r"\s*(\d+)\s+(\d+)\s*", frag)
                    if not m:
                        raise DataFileError(f"{where}: bad offsets {offsets!r}")
                    start, end = int(m.group(1)), int(m.group(2))
                    _check_span(txt.stem, text, start, end, where)
                    spans.append(Span(start, end, kind.upper(), text[start:end], "gold"))
        notes.append(GoldNote(txt.stem, text, spans))
    return notes


_RECORD = re.compile(r"START_OF_RECORD=([^|]+)\|\|\|\|([^|]+)\|\|\|\|\n?(.*?)\|\|\|\|END_OF_RECORD",
                     re.S)  # fmt: skip


def _read_physionet(path: Path) -> list[GoldNote]:
    phrase = path.with_name(path.stem + "-phi.phrase")
    if not phrase.exists():
        raise DataFileError(f"PhysioNet gold {str(path)!r} needs {phrase.name} beside it")
    records: dict[tuple[str, str], str] = {}
    for m in _RECORD.finditer(path.read_text(encoding="utf-8", errors="replace")):
        records[(m.group(1).strip(), m.group(2).strip())] = m.group(3)
    if not records:
        raise DataFileError(f"{str(path)!r} has no START_OF_RECORD=...||||END_OF_RECORD records")
    spans: dict[tuple[str, str], list[Span]] = {k: [] for k in records}
    for n, line in enumerate(phrase.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{phrase}:line {n}"
        parts = line.split(maxsplit=5)
        if len(parts) < 5 or not parts[2].isdigit() or not parts[3].isdigit():
            raise DataFileError(f"{where}: expected 'PID NOTE START END TYPE phrase'")
        key = (parts[0], parts[1])
        if key not in records:
            raise DataFileError(f"{where}: record {key} is not in {path.name}")
        text = records[key]
        start, end = int(parts[2]), int(parts[3])
        _check_span(f"{key[0]}-{key[1]}", text, start, end, where)
        kind = PHYSIONET_TYPES.get(parts[4].upper(), parts[4].upper())
        spans[key].append(Span(start, end, kind, text[start:end], "gold"))
    return [GoldNote(f"{p}-{n}", text, spans[(p, n)], p) for (p, n), text in records.items()]


def read_gold(path: str | Path) -> list[GoldNote]:
    """Gold notes from JSONL, a brat folder or a PhysioNet ``id.text`` file (see module doc)."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"gold {str(path)!r} does not exist")
    if path.is_dir():
        return _read_brat(path)
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path)
    if path.suffix.lower() == ".text":
        return _read_physionet(path)
    raise DataFileError(f"unknown gold format {str(path)!r}: use .jsonl, a brat folder or a "
                        "PhysioNet id.text file")  # fmt: skip


# --- scoring ------------------------------------------------------------------------------------
def read_standoff(path: str | Path) -> dict[str, list[Span]]:
    """Predicted spans by note id from a standoff JSONL (``medai deid text --standoff``)."""
    path = Path(path)
    predicted: dict[str, list[Span]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            predicted[str(obj["id"])] = [Span(int(s["start"]), int(s["end"]), str(s["type"]), "")
                                         for s in obj["spans"]]  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise DataFileError(f"{path}:line {n}: not a standoff record ({exc}); expected "
                                "id and spans with start, end, type") from None  # fmt: skip
    return predicted


def _tokens(text: str, zh: bool) -> list[tuple[int, int]]:
    rx = r"[\u4e00-\u9fff]|[A-Za-z0-9]+|[^\sA-Za-z0-9\u4e00-\u9fff]" if zh else r"\w+"
    return [(m.start(), m.end()) for m in re.finditer(rx, text) if not m.group().isspace()]


def _labels(tokens: list[tuple[int, int]], spans: Sequence[Span]) -> list[str | None]:
    out: list[str | None] = [None] * len(tokens)
    starts = np.array([t[0] for t in tokens], dtype=np.int64)
    ends = np.array([t[1] for t in tokens], dtype=np.int64)
    for s in spans:
        hit = np.flatnonzero((starts < s.end) & (ends > s.start))
        for i in hit:
            out[i] = s.type
    return out


def _prf(tp: float, fp: float, fn: float) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f2 = 5 * p * r / (4 * p + r) if tp and (4 * p + r) else 0.0
    return {"precision": p, "recall": r, "f2": f2, "tp": tp, "fp": fp, "fn": fn}


@dataclass
class Scores:
    """Token- and span-level scores; :meth:`table` flattens them."""

    token: dict[str, float]
    span_partial: dict[str, float]
    span_exact: dict[str, float]
    per_type: dict[str, dict[str, float]] = field(default_factory=dict)
    n_notes: int = 0
    missed: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def clean(d: Mapping[str, Any]) -> dict[str, Any]:
            return {k: (None if isinstance(v, float) and v != v else v) for k, v in d.items()}

        return {"n_notes": self.n_notes, "token": clean(self.token),
                "span_partial": clean(self.span_partial), "span_exact": clean(self.span_exact),
                "per_type": {k: clean(v) for k, v in self.per_type.items()}}  # fmt: skip

    def table(self) -> list[dict[str, Any]]:
        rows = [{"level": "token (any type)", **self.token},
                {"level": "span, partial overlap", **self.span_partial},
                {"level": "span, exact", **self.span_exact}]  # fmt: skip
        rows += [{"level": f"token: {t}", **v} for t, v in self.per_type.items()]
        return rows


def score(
    gold: Iterable[GoldNote], predicted: Mapping[str, Sequence[Span]], *, keep_missed: int = 0
) -> Scores:
    """Compare predicted spans (by note id) with the gold spans.

    ``keep_missed`` keeps that many missed gold spans (type and note id, with 30 characters of
    context) for error analysis; the text is PHI, so use it on test data only.
    """
    tok = np.zeros(3)  # tp, fp, fn
    part = np.zeros(4)  # gold found, gold total, predictions correct, predictions total
    exact = np.zeros(4)
    gold_type: dict[str, np.ndarray] = {}  # recall per gold type: [covered, total]
    pred_type: dict[str, np.ndarray] = {}  # precision per predicted type: [correct, total]
    missed: list[dict[str, Any]] = []
    n = 0
    for note in gold:
        n += 1
        pred = list(predicted.get(note.id, []))
        zh = (note.lang == "zh") if note.lang else bool(re.search(r"[\u4e00-\u9fff]", note.text))
        tokens = _tokens(note.text, zh)
        g_lab, p_lab = _labels(tokens, note.spans), _labels(tokens, pred)
        for gl, pl in zip(g_lab, p_lab, strict=True):
            tok += (gl is not None and pl is not None, gl is None and pl is not None,
                    gl is not None and pl is None)  # fmt: skip
            if gl is not None:
                gold_type.setdefault(gl, np.zeros(2))[:] += (pl is not None, 1)
            if pl is not None:
                pred_type.setdefault(pl, np.zeros(2))[:] += (gl is not None, 1)
        for s in note.spans:
            hit = any(p.start < s.end and p.end > s.start for p in pred)
            same = any(p.start == s.start and p.end == s.end for p in pred)
            part[:2] += (hit, 1)
            exact[:2] += (same, 1)
            if not hit and len(missed) < keep_missed:
                missed.append({"note": note.id, "type": s.type, "text": s.text,
                               "context": note.text[max(0, s.start - 30) : s.end + 30]})  # fmt: skip
        for p in pred:
            part[2:] += (any(p.start < s.end and p.end > s.start for s in note.spans), 1)
            exact[2:] += (any(p.start == s.start and p.end == s.end for s in note.spans), 1)
    per_type: dict[str, dict[str, float]] = {}
    for t in sorted(set(gold_type) | set(pred_type), key=lambda t: (t not in PHI_TYPES, t)):
        gc = gold_type.get(t, np.zeros(2))
        pc = pred_type.get(t, np.zeros(2))
        per_type[t] = {"recall": gc[0] / gc[1] if gc[1] else float("nan"),
                       "gold_tokens": float(gc[1]),
                       "precision": pc[0] / pc[1] if pc[1] else float("nan"),
                       "predicted_tokens": float(pc[1])}  # fmt: skip
    return Scores(_prf(*tok), _span_prf(part), _span_prf(exact), per_type, n, missed)


def _span_prf(counts: np.ndarray) -> dict[str, float]:
    found, n_gold, correct, n_pred = (float(c) for c in counts)
    r = found / n_gold if n_gold else float("nan")
    p = correct / n_pred if n_pred else float("nan")
    f2 = 5 * p * r / (4 * p + r) if n_gold and n_pred and (4 * p + r) else 0.0
    return {"precision": p, "recall": r, "f2": f2, "gold_spans": n_gold, "found": found,
            "predicted_spans": n_pred, "correct": correct}  # fmt: skip
