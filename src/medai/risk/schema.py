"""Column schema of a patient table: inference, user overrides, outcome checks.

Each column gets a *type* (``numeric``, ``binary``, ``categorical``, ``datetime``, ``text``,
``id``, ``constant``, ``ignore``) and a *role* (``feature``, ``target``, ``time``, ``event``,
``group`` or ``excluded``) with the reason it was excluded. Only ``numeric``, ``binary`` and
``categorical`` columns are used as features.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from medai.core.errors import SchemaError

__all__ = [
    "COLUMN_TYPES",
    "Column",
    "Outcome",
    "Schema",
    "infer_schema",
    "parse_assignments",
]

COLUMN_TYPES = ("numeric", "binary", "categorical", "datetime", "text", "id", "constant", "ignore")
FEATURE_TYPES = ("numeric", "binary", "categorical")
MAX_CATEGORIES = 50
LEAK_AUROC = 0.99
_ID_NAME = re.compile(r"(^|_)(id|mrn|uuid|record|patient|subject|ssn|nhs)(_|$)|id$", re.IGNORECASE)
_POSITIVE = {
    "1",
    "1.0",
    "true",
    "yes",
    "y",
    "positive",
    "pos",
    "malignant",
    "dead",
    "died",
    "event",
}


@dataclass
class Column:
    """One column of the schema."""

    name: str
    type: str
    role: str = "feature"
    reason: str = ""
    missing_values: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    """What the model predicts: a binary target or a (time, event) survival pair."""

    kind: str  # "binary" | "survival"
    target: str | None = None
    positive: Any = None
    negative: Any = None
    time: str | None = None
    event: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in asdict(self).items() if v is not None}


@dataclass
class Schema:
    """The columns of a training table and what medai does with each."""

    columns: list[Column]
    outcome: Outcome

    @property
    def features(self) -> list[Column]:
        return [c for c in self.columns if c.role == "feature"]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.to_dict(),
            "columns": [
                {**c.to_dict(), "missing_values": [_jsonable(v) for v in c.missing_values]}
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Schema:
        return cls(
            columns=[Column(**c) for c in d["columns"]],
            outcome=Outcome(**d["outcome"]),
        )


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def parse_assignments(items: Sequence[str], what: str) -> dict[str, str]:
    """Parse ``["col=value", ...]`` CLI options into a dict, with a clear error."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise SchemaError(f"{what} {item!r} is not of the form COLUMN=VALUE")
        out[name.strip()] = value.strip()
    return out


def _as_number(value: str) -> Any:
    try:
        f = float(value)
    except ValueError:
        return value
    return int(f) if f.is_integer() else f


def apply_missing_values(df: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    """Replace each column's "means missing" codes with NaN (returns a new frame)."""
    out = df.copy()
    for col in columns:
        if col.missing_values and col.name in out:
            out[col.name] = out[col.name].mask(out[col.name].isin(col.missing_values))
    return out


def infer_schema(
    df: pd.DataFrame,
    *,
    target: str | None = None,
    time: str | None = None,
    event: str | None = None,
    group: str | None = None,
    positive: str | None = None,
    types: Mapping[str, str] | None = None,
    missing: Mapping[str, Sequence[Any]] | None = None,
    keep: Sequence[str] = (),
) -> Schema:
    """Infer the schema of a training table and check its outcome.

    Parameters
    ----------
    df
        Training table, shape (n_rows, n_columns).
    target
        Binary outcome column (exclusive with ``time``/``event``).
    time, event
        Survival follow-up time (>= 0) and event indicator (0/1) columns.
    group
        Patient id column used to keep a patient's rows in one split.
    positive
        Value of ``target`` that means the outcome happened (default: guessed, e.g. 1/yes).
    types
        Overrides ``{column: type}``; ``ignore`` drops a column.
    missing
        Values that mean missing, per column (``{"Glucose": [0]}``); ``"*"`` applies to all
        numeric feature columns.
    keep
        Columns to keep as features even if flagged as ID-like or leaking the target.

    Raises
    ------
    SchemaError
        An outcome column is absent or invalid, an override names an unknown column or
        type, or a column is entirely missing.
    """
    types = dict(types or {})
    missing = {k: list(v) for k, v in (missing or {}).items()}
    names = list(df.columns)
    for named in [*types, *[m for m in missing if m != "*"], *keep, group]:
        if named is not None and named not in names:
            raise SchemaError(
                f"column {named!r} is not in the data; columns are: {_preview(names)}"
            )
    for named, t in types.items():
        if t not in COLUMN_TYPES:
            raise SchemaError(
                f"type {t!r} for column {named!r} is unknown; use one of {COLUMN_TYPES}"
            )

    outcome = _check_outcome(df, target=target, time=time, event=event, positive=positive)
    outcome_cols = {c for c in (target, time, event) if c}
    y = outcome_vector(df, outcome)

    columns: list[Column] = []
    for name in names:
        codes = missing.get(name, [])
        if name in outcome_cols:
            role = "target" if name == target else ("time" if name == time else "event")
            columns.append(Column(name, "numeric", role=role))
            continue
        if name == group:
            columns.append(Column(name, "id", role="group", reason="patient grouping column"))
            continue
        series = df[name]
        if codes:
            series = series.mask(series.isin(codes))
        ctype, reason = (types[name], "set by user") if name in types else _infer_type(name, series)
        if "*" in missing and ctype == "numeric" and name not in missing:
            codes = missing["*"]
            series = series.mask(series.isin(codes))
        if series.isna().all() and ctype != "ignore":
            raise SchemaError(
                f"column {name!r} is entirely missing"
                + (f" (after treating {codes} as missing)" if codes else "")
                + f"; drop it or pass --schema {name}=ignore"
            )
        col = Column(name, ctype, missing_values=list(codes))
        if ctype not in FEATURE_TYPES:
            col.role, col.reason = "excluded", reason or ctype
        elif name not in keep and name not in types:
            leak = _leak_auroc(series, ctype, y)
            if leak is not None and leak >= LEAK_AUROC:
                col.role = "excluded"
                col.reason = (
                    f"leaks the outcome (single-column AUROC {leak:.3f}); "
                    f"pass --keep {name} to use it anyway"
                )
        columns.append(col)
    schema = Schema(columns, outcome)
    if not schema.features:
        raise SchemaError(
            "no usable feature columns: every column is the outcome, an id, text, constant or "
            "excluded; see the schema report and use --schema/--keep to include columns"
        )
    return schema


def _preview(names: Sequence[Any], n: int = 12) -> str:
    shown = ", ".join(repr(str(x)) for x in list(names)[:n])
    return shown + (f", ... ({len(names)} in all)" if len(names) > n else "")


def _infer_type(name: str, s: pd.Series) -> tuple[str, str]:
    """Guess a column's type from its values and name."""
    values = s.dropna()
    n_unique = values.nunique()
    if n_unique <= 1:
        return "constant", "constant (one distinct value)"
    if pd.api.types.is_bool_dtype(s) or n_unique == 2:
        return "binary", ""
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime", "datetime (not used as a predictor)"
    if pd.api.types.is_numeric_dtype(s):
        numeric, is_numeric = values, True
    else:
        numeric = pd.to_numeric(values, errors="coerce")
        is_numeric = bool(numeric.notna().all())
    unique_per_row = n_unique == len(values) and len(values) >= 20
    if is_numeric:
        is_integer = bool(np.all(np.mod(np.asarray(numeric, dtype=float), 1) == 0))
        if _ID_NAME.search(name) and is_integer and n_unique > 0.9 * len(values):
            return "id", "ID-like (unique integer per row); pass --schema COL=numeric to use it"
        return "numeric", ""
    text = values.astype(str)
    if _looks_like_dates(text):
        return "datetime", "datetime (not used as a predictor)"
    if unique_per_row or (_ID_NAME.search(name) and n_unique > 0.9 * len(values)):
        if text.str.contains(r"\s").mean() > 0.5 and text.str.len().mean() > 20:
            return "text", "free text (not used as a predictor)"
        return "id", "ID-like (unique value per row)"
    if n_unique > MAX_CATEGORIES:
        if text.str.len().mean() > 20:
            return "text", "free text (not used as a predictor)"
        return "ignore", f"too many categories ({n_unique} > {MAX_CATEGORIES})"
    return "categorical", ""


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(50)
    if not sample.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.9)


def _leak_auroc(s: pd.Series, ctype: str, y: np.ndarray | None) -> float | None:
    """Best single-column AUROC for the outcome, or None when not computable."""
    if y is None:
        return None
    from medai.core.metrics import auroc

    mask = s.notna().to_numpy() & ~np.isnan(y)
    if mask.sum() < 20 or len(np.unique(y[mask])) < 2:
        return None
    if ctype == "numeric":
        x = pd.to_numeric(s[mask], errors="coerce").to_numpy(dtype=float)
        if np.isnan(x).any():
            return None
    else:
        levels = s[mask].astype(str)
        x = levels.map(pd.Series(y[mask]).groupby(levels.to_numpy()).mean()).to_numpy(dtype=float)
        if levels.nunique() > 0.5 * mask.sum():
            return None
    a = auroc(y[mask], x)
    return float(max(a, 1 - a))


def _check_outcome(
    df: pd.DataFrame,
    *,
    target: str | None,
    time: str | None,
    event: str | None,
    positive: str | None,
) -> Outcome:
    names = list(df.columns)
    if target and (time or event):
        raise SchemaError(
            "give either --target (binary) or --time and --event (survival), not both"
        )
    if not target and not (time and event):
        if time or event:
            raise SchemaError("survival needs both --time and --event columns")
        raise SchemaError("no outcome given: pass --target COL, or --time COL --event COL")
    for role, col in (("target", target), ("time", time), ("event", event)):
        if col and col not in names:
            raise SchemaError(
                f"{role} column {col!r} is not in the data; columns are: {_preview(names)}"
            )
    if target:
        values = df[target].dropna()
        classes = list(pd.unique(values))
        if len(classes) < 2:
            raise SchemaError(
                f"target column {target!r} has {len(classes)} class(es) "
                f"{[str(c) for c in classes]}; a binary model needs two"
            )
        if len(classes) > 2:
            raise SchemaError(
                f"target column {target!r} has {len(classes)} distinct values "
                f"(e.g. {[str(c) for c in classes[:5]]}); a binary model needs exactly two. "
                "Recode it (e.g. outcome = value above a cut-off) first"
            )
        pos = _pick_positive(classes, positive, target)
        neg = classes[1] if classes[0] == pos else classes[0]
        return Outcome("binary", target=target, positive=_jsonable(pos), negative=_jsonable(neg))
    assert time is not None and event is not None  # narrowed above
    t = pd.to_numeric(df[time], errors="coerce")
    bad = df[time].notna() & t.isna()
    if bad.any():
        raise SchemaError(
            f"time column {time!r} is not numeric at row {_row(bad)}; "
            "expected follow-up time as a number (e.g. days)"
        )
    if (t < 0).any():
        raise SchemaError(
            f"time column {time!r} has a negative time at row {_row(t < 0)}; "
            "follow-up times must be >= 0"
        )
    e = df[event]
    ok = e.isna() | e.isin([0, 1, True, False])
    if not ok.all():
        raise SchemaError(
            f"event column {event!r} has value {str(e[~ok].iloc[0])!r} at row {_row(~ok)}; "
            "expected 0 (censored) or 1 (event)"
        )
    if e.dropna().astype(int).sum() == 0:
        raise SchemaError(f"event column {event!r} has no events (all 0); nothing to model")
    return Outcome("survival", time=time, event=event)


def _row(mask: pd.Series) -> int:
    """1-based data-row number (header excluded) of the first True in ``mask``."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1


def _pick_positive(classes: list[Any], positive: str | None, target: str) -> Any:
    if positive is not None:
        for c in classes:
            if str(c) == str(positive) or str(_as_number(str(c))) == str(_as_number(positive)):
                return c
        raise SchemaError(
            f"--positive {positive!r} is not a value of target {target!r}; "
            f"its values are {[str(c) for c in classes]}"
        )
    for c in classes:
        if str(c).strip().lower() in _POSITIVE:
            return c
    return sorted(classes, key=str)[1]


def outcome_vector(df: pd.DataFrame, outcome: Outcome) -> np.ndarray | None:
    """0/1 vector for leakage checks: the binary target or the survival event (NaN kept)."""
    if outcome.kind == "binary":
        assert outcome.target is not None
        col = df[outcome.target]
        return np.where(col.isna(), np.nan, (col == outcome.positive).astype(float))
    assert outcome.event is not None
    return pd.to_numeric(df[outcome.event], errors="coerce").to_numpy(dtype=float)
