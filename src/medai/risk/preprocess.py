"""Turning a patient table into a numeric matrix: missing codes, imputation, scaling, one-hot.

The :class:`Preprocessor` is fitted on training rows only (inside each CV fold) and is saved
as plain JSON, so a bundle needs no pickle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medai.core.errors import SchemaError
from medai.risk.schema import Column, Schema, _row

__all__ = ["Preprocessor", "check_columns"]


def check_columns(df: pd.DataFrame, schema: Schema, *, need_outcome: bool = False) -> None:
    """Refuse a table whose columns do not match the training schema.

    Feature columns must all be present; columns the training table did not have are refused
    (columns it had but did not use, like ids or the outcome, are allowed).
    """
    known = {c.name for c in schema.columns}
    needed = [c.name for c in schema.features]
    if need_outcome:
        o = schema.outcome
        needed += [c for c in (o.target, o.time, o.event) if c]
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise SchemaError(
            f"the data lacks column(s) {absent} that the model was trained with; "
            "it needs the same columns as the training table"
        )
    extra = [str(c) for c in df.columns if c not in known]
    if extra:
        raise SchemaError(
            f"the data has column(s) {extra} that the training table did not have; "
            "remove them (or check that this is the right file for this model)"
        )


class Preprocessor:
    """Median/mode imputation, standardisation of numeric columns and one-hot categories.

    Parameters
    ----------
    columns
        The schema's feature columns (types ``numeric``, ``binary`` or ``categorical``).
    """

    def __init__(self, columns: list[Column]) -> None:
        self.columns = columns
        self.params_: dict[str, dict[str, Any]] = {}

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame) -> Preprocessor:
        """Learn imputation values, scales and category levels from training rows."""
        self.params_ = {}
        for col in self.columns:
            s = self._clean(df, col)
            if col.type == "numeric":
                x = s.to_numpy(dtype=float)
                med = float(np.nanmedian(x)) if np.isfinite(x).any() else 0.0
                filled = np.where(np.isnan(x), med, x)
                sd = float(filled.std())
                self.params_[col.name] = {
                    "median": med,
                    "mean": float(filled.mean()),
                    "scale": sd if sd > 0 else 1.0,
                }
            elif col.type == "binary":
                levels = sorted(s.dropna().unique().tolist(), key=str)
                mode = s.mode(dropna=True)
                self.params_[col.name] = {
                    "levels": [_py(v) for v in levels],
                    "mode": _py(mode.iloc[0]) if len(mode) else _py(levels[0]),
                }
            else:
                counts = s.dropna().astype(str).value_counts()
                self.params_[col.name] = {"levels": sorted(counts.index.tolist())}
        return self

    @property
    def feature_names_(self) -> list[str]:
        """Names of the output matrix columns (``col`` or ``col=level`` for categories)."""
        names: list[str] = []
        for col in self.columns:
            if col.type == "categorical":
                names += [f"{col.name}={lv}" for lv in self.params_[col.name]["levels"]]
            else:
                names.append(col.name)
        return names

    @property
    def sources_(self) -> list[str]:
        """Source column of each output matrix column."""
        out: list[str] = []
        for col in self.columns:
            k = len(self.params_[col.name]["levels"]) if col.type == "categorical" else 1
            out += [col.name] * k
        return out

    # -- transforming ------------------------------------------------------------------------
    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Numeric matrix of shape (n_rows, len(feature_names_)), no missing values."""
        blocks: list[np.ndarray] = []
        for col in self.columns:
            p = self.params_[col.name]
            s = self._clean(df, col)
            if col.type == "numeric":
                x = s.to_numpy(dtype=float)
                x = np.where(np.isnan(x), p["median"], x)
                blocks.append(((x - p["mean"]) / p["scale"])[:, None])
            elif col.type == "binary":
                filled = s.where(s.notna(), p["mode"])
                hi = p["levels"][-1]
                if all(isinstance(v, int | float) for v in p["levels"]):
                    num = pd.to_numeric(filled, errors="coerce")
                    if num.isna().any():
                        raise SchemaError(
                            f"column {col.name!r} should hold {p['levels']} but row "
                            f"{_row(num.isna())} holds something else"
                        )
                    is_hi = (num == hi).to_numpy(dtype=float)
                else:
                    is_hi = (filled.astype(str) == str(hi)).to_numpy(dtype=float)
                blocks.append(is_hi[:, None])
            else:
                levels = p["levels"]
                codes = pd.Categorical(s.astype(str).where(s.notna()), categories=levels).codes
                onehot = np.zeros((len(df), len(levels)))
                rows = np.flatnonzero(codes >= 0)
                onehot[rows, codes[rows]] = 1.0
                blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((len(df), 0))

    def fit_transform(self, df: pd.DataFrame) -> np.ndarray:
        return self.fit(df).transform(df)

    def _clean(self, df: pd.DataFrame, col: Column) -> pd.Series:
        """The column with missing codes as NaN; numeric columns coerced, refusing text."""
        s = df[col.name]
        if col.missing_values:
            s = s.mask(s.isin(col.missing_values))
        if col.type != "numeric":
            return s
        num = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_numeric_dtype(s) else s
        bad = s.notna() & num.isna()
        if bad.any():
            raise SchemaError(
                f"column {col.name!r} should be numeric but row {_row(bad)} holds text; "
                "fix the value or mark the column categorical with --schema"
            )
        return num.astype(float)

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"columns": [c.to_dict() for c in self.columns], "params": self.params_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        pre = cls([Column(**c) for c in d["columns"]])
        pre.params_ = d["params"]
        return pre


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
