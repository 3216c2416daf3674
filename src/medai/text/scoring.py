"""Scoring ConText attributes and medication fields against hand-annotated sentences.

Gold formats (``tests/data/text/README.md``): context lines ``{"id", "text", "targets": [{"text",
"occurrence"?, "negated", "uncertain", "historical", "hypothetical", "family"}], "section"?}``;
medication lines ``{"id", "text", "medications": [{"drug", "strength", "unit", "dose",
"dose_unit", "route", "per_day", "duration_days", "as_needed", "indication"}]}``.

Context is scored on the gold target spans (as ConText itself is evaluated, and as medspaCy is
run in the benchmark), so concept recognition does not blur the attribute figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from medai.core.errors import DataFileError
from medai.text.context import CATEGORIES, apply_context
from medai.text.segment import detect_lang

__all__ = [
    "MED_FIELDS",
    "context_attributes",
    "read_gold",
    "score_context",
    "score_medications",
    "target_spans",
]

MED_FIELDS = (
    "drug", "strength", "unit", "dose", "dose_unit", "route", "per_day", "duration_days",
    "as_needed", "indication",
)  # fmt: skip


def read_gold(path: str | Path) -> list[dict[str, Any]]:
    """Read a gold JSONL file (errors name the line)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"gold file {str(path)!r} does not exist")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            raise DataFileError(f"{path}:{n}: not valid JSON ({exc})") from None
    return rows


def target_spans(text: str, targets: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """Offsets of each gold target (its ``occurrence``-th match in the text)."""
    out = []
    for t in targets:
        k = int(t.get("occurrence", 0))
        pos = -1
        for _ in range(k + 1):
            pos = text.find(t["text"], pos + 1)
            if pos < 0:
                raise DataFileError(f"target {t['text']!r} not found in {text!r:.80}")
        out.append((pos, pos + len(t["text"])))
    return out


def context_attributes(
    text: str,
    spans: Sequence[tuple[int, int]],
    lang: str | None = None,
    section: str | None = None,
) -> list[dict[str, Any]]:
    """ConText attributes for given spans of a text (bundled rules, section applied)."""
    concepts: list[dict[str, Any]] = [
        {"start": a, "end": b, "section": section, **dict.fromkeys(CATEGORIES, False)}
        for a, b in spans
    ]
    apply_context(text, concepts, lang or detect_lang(text))
    return concepts


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else math.nan
    r = tp / (tp + fn) if tp + fn else math.nan
    f = 2 * p * r / (p + r) if tp else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def score_context(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-attribute precision/recall/F1 over every gold target, plus the errors."""
    counts = {c: [0, 0, 0] for c in CATEGORIES}
    errors: list[dict[str, Any]] = []
    n = 0
    for row in rows:
        spans = target_spans(row["text"], row["targets"])
        pred = context_attributes(row["text"], spans, section=row.get("section"))
        for t, p in zip(row["targets"], pred, strict=True):
            n += 1
            wrong = []
            for c in CATEGORIES:
                g, q = bool(t.get(c)), bool(p[c])
                counts[c][0] += g and q
                counts[c][1] += q and not g
                counts[c][2] += g and not q
                if g != q:
                    wrong.append(f"{c}={q}")
            if wrong:
                errors.append({"id": row.get("id"), "target": t["text"], "predicted": wrong})
    out: dict[str, Any] = {c: _prf(*counts[c]) for c in CATEGORIES}
    out["targets"] = n
    out["errors"] = errors
    return out


def _same(field: str, gold: Any, pred: Any) -> bool:
    if gold is None or pred is None:
        return gold is None and pred is None
    if field in ("strength", "dose", "per_day", "duration_days"):
        return abs(float(gold) - float(pred)) < 1e-3 * max(1.0, abs(float(gold)))
    if field == "as_needed":
        return bool(gold) == bool(pred)
    return str(gold).strip().lower() == str(pred).strip().lower()


def score_medications(rows: Iterable[Mapping[str, Any]], extractor: Any) -> dict[str, Any]:
    """Field accuracy of medication orders: gold orders matched to predicted ones in order.

    A gold order with no predicted order counts every field wrong; predicted orders with no
    gold one are counted as ``extra``.
    """
    right = dict.fromkeys(MED_FIELDS, 0)
    total = 0
    extra = 0
    errors: list[dict[str, Any]] = []
    for row in rows:
        pred = extractor.extract(row["text"])["medications"]
        gold = row["medications"]
        used: set[int] = set()
        for g in gold:
            match = next(
                (
                    i
                    for i, p in enumerate(pred)
                    if i not in used and _same("drug", g["drug"], p["drug"])
                ),
                None,
            )
            if match is None:
                match = next((i for i in range(len(pred)) if i not in used), None)
            p = pred[match] if match is not None else {}
            if match is not None:
                used.add(match)
            total += 1
            wrong = []
            for f in MED_FIELDS:
                ok = _same(f, g.get(f), p.get(f)) if p else False
                right[f] += ok
                if not ok:
                    wrong.append(f"{f}: gold {g.get(f)!r}, got {p.get(f)!r}")
            if wrong:
                errors.append({"id": row.get("id"), "wrong": wrong})
        extra += len(pred) - len(used)
    per_field = {f: right[f] / total if total else math.nan for f in MED_FIELDS}
    overall = sum(right.values()) / (total * len(MED_FIELDS)) if total else math.nan
    return {
        "field_accuracy": overall,
        "per_field": per_field,
        "orders": total,
        "extra": extra,
        "errors": errors,
    }
