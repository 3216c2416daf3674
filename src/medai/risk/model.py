"""The risk bundle: schema + preprocessing + model + calibration, with predict and explain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medai.core.bundle import Bundle
from medai.core.errors import BundleError
from medai.core.tables import read_table
from medai.risk.estimators import Calibrator, RiskModel, SurvivalModel, load_model
from medai.risk.preprocess import Preprocessor, check_columns
from medai.risk.schema import Schema

__all__ = ["RISK_GROUPS", "Explanation", "RiskBundle", "as_frame"]

RISK_GROUPS = ("low", "intermediate", "high")
PREPROCESS_FILE = "preprocess.json"
CALIBRATION_FILE = "calibration.json"


def as_frame(data: pd.DataFrame | str | Path) -> pd.DataFrame:
    """A DataFrame from a DataFrame or a CSV/Parquet path."""
    return data if isinstance(data, pd.DataFrame) else read_table(data)


@dataclass
class Explanation:
    """Per-row SHAP contributions aggregated to the input columns.

    Attributes
    ----------
    values
        DataFrame of shape (n_rows, n_columns): each column's additive contribution to the
        model score (log-odds for binary models, log-hazard / risk score for survival).
    base
        Array (n_rows,): the score of an average patient (SHAP expected value).
    score
        Array (n_rows,): ``base + values.sum(axis=1)`` (equals the model score).
    scale
        What the score means.
    """

    values: pd.DataFrame
    base: np.ndarray
    score: np.ndarray
    scale: str

    def top(self, row: int, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` columns with the largest absolute contribution for one row."""
        v = self.values.iloc[row]
        order = np.argsort(-np.abs(v.to_numpy()))[:k]
        return [(str(v.index[j]), float(v.iloc[j])) for j in order]


class RiskBundle(Bundle):
    """A trained risk or survival model.

    Use :func:`medai.risk.train` to make one and :meth:`load` to read one from disk.
    """

    pillar = "risk"

    def __init__(
        self,
        card: dict[str, Any],
        schema: Schema,
        preprocessor: Preprocessor,
        model: RiskModel,
        calibrator: Calibrator | None = None,
        report_html: str | None = None,
    ) -> None:
        super().__init__(card, report_html)
        self.schema = schema
        self.preprocessor = preprocessor
        self.model = model
        self.calibrator = calibrator

    # -- properties from the card ------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.schema.outcome.kind

    @property
    def horizons(self) -> list[float]:
        return [float(h) for h in self.card.get("output", {}).get("horizons", [])]

    @property
    def risk_cuts(self) -> list[float]:
        return [float(c) for c in self.card["output"]["risk_group_cuts"]]

    # -- core computations -------------------------------------------------------------------
    def matrix(self, data: pd.DataFrame | str | Path, *, need_outcome: bool = False) -> np.ndarray:
        """Check the columns against the training schema and build the model matrix."""
        df = as_frame(data)
        check_columns(df, self.schema, need_outcome=need_outcome)
        return self.preprocessor.transform(df)

    def risk_values(self, X: np.ndarray) -> np.ndarray:
        """The value risk groups are cut on: calibrated probability or survival risk score."""
        score = self.model.score(X)
        if self.calibrator is not None:
            return self.calibrator.predict(score)
        return score

    def risk_group(self, values: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(np.asarray(self.risk_cuts), values, side="right")
        return np.asarray(RISK_GROUPS, dtype=object)[idx]

    # -- public verbs ------------------------------------------------------------------------
    def predict(self, x: pd.DataFrame | str | Path, *, top: int = 3) -> pd.DataFrame:
        """Predictions for each row of a table with the training columns.

        Returns
        -------
        pandas.DataFrame
            One row per input row: ``probability`` (binary) or ``risk_score`` and
            ``risk_t<h>`` (probability of the event by each horizon) for survival;
            ``risk_group`` (low/intermediate/high, cut at training tertiles) and
            ``top_1..top_k`` naming the columns that contributed most ("col (+0.42)").
        """
        df = as_frame(x)
        X = self.matrix(df)
        out = pd.DataFrame(index=df.index)
        values = self.risk_values(X)
        if self.kind == "binary":
            out["probability"] = values
        else:
            out["risk_score"] = values
            assert isinstance(self.model, SurvivalModel)
            surv = self.model.survival(X, np.asarray(self.horizons))
            for j, h in enumerate(self.horizons):
                out[f"risk_t{h:g}"] = 1.0 - surv[:, j]
        out["risk_group"] = self.risk_group(values)
        if top:
            exp = self._explain_matrix(X)
            vals = exp.values.to_numpy()
            names = list(exp.values.columns)
            order = np.argsort(-np.abs(vals), axis=1, kind="stable")[:, :top]
            for k in range(order.shape[1]):
                out[f"top_{k + 1}"] = [
                    f"{names[j]} ({vals[r, j]:+.2f})" for r, j in enumerate(order[:, k])
                ]
        return out

    def explain(self, x: pd.DataFrame | str | Path) -> Explanation:
        """SHAP contributions of each input column for each row (see :class:`Explanation`)."""
        return self._explain_matrix(self.matrix(x))

    def _explain_matrix(self, X: np.ndarray) -> Explanation:
        contrib, base = self.model.contributions(X)
        sources = self.preprocessor.sources_
        names = [c.name for c in self.preprocessor.columns]
        agg = pd.DataFrame(contrib, columns=sources).T.groupby(level=0, sort=False).sum().T
        agg = agg[names]
        scale = "log-odds" if self.kind == "binary" else f"{self.model.name} risk score"
        return Explanation(agg, base, base + contrib.sum(axis=1), scale)

    # -- persistence -------------------------------------------------------------------------
    def _to_files(self) -> dict[str, bytes]:
        files = {
            self.model.file: self.model.to_bytes(),
            PREPROCESS_FILE: json.dumps(self.preprocessor.to_dict()).encode(),
        }
        if self.calibrator is not None:
            files[CALIBRATION_FILE] = json.dumps(self.calibrator.to_dict()).encode()
        return files

    @classmethod
    def _from_files(cls, card: dict[str, Any], files: dict[str, bytes]) -> RiskBundle:
        try:
            info = card["model"]
            schema = Schema.from_dict(card["input_schema"])
            pre = Preprocessor.from_dict(json.loads(files[PREPROCESS_FILE]))
            model = load_model(info["name"], files[info["file"]], info["params"])
            cal = files.get(CALIBRATION_FILE)
            calibrator = Calibrator.from_dict(json.loads(cal)) if cal else None
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"the bundle's card or files are incomplete ({exc!r})") from None
        return cls(card, schema, pre, model, calibrator)
