"""The risk models, each saved in a safe format, and probability calibrators.

Binary: :class:`LogisticModel` (JSON coefficients) and :class:`LightGBMModel` (LightGBM's
own text format). Survival: :class:`CoxModel` (JSON coefficients + Breslow baseline hazard)
and :class:`ForestModel` (random survival forest; tree arrays in safetensors, predicted by a
numpy traversal). All work on the matrix made by :class:`~medai.risk.preprocess.Preprocessor`.

Every model gives additive per-feature contributions (SHAP values) on its score scale:
exact linear SHAP for the linear models, TreeSHAP from LightGBM, and a permutation SHAP
estimate (``shap`` package) for the forest.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from medai.core.errors import BundleError, require

__all__ = [
    "BINARY_MODELS",
    "SURVIVAL_MODELS",
    "Calibrator",
    "CoxModel",
    "ForestModel",
    "LightGBMModel",
    "LogisticModel",
    "load_model",
]

Array = np.ndarray


def _sigmoid(z: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _threads(n_rows: int) -> int:
    """Threads for tree libraries: one on small tables (OpenMP spin-waits make two threads far
    slower when another process shares the cores, and small data gains little from them)."""
    return 1 if n_rows < 50_000 else min(2, os.cpu_count() or 1)


def _balanced_weights(y: Array) -> Array:
    """Sample weights that give both classes equal total weight."""
    y = np.asarray(y).astype(int)
    counts = np.bincount(y, minlength=2).astype(float)
    return np.asarray(len(y) / (2.0 * counts[y]))


class RiskModel(ABC):
    """Common interface of the binary and survival models."""

    name: ClassVar[str]
    kind: ClassVar[str]
    file: ClassVar[str]

    def __init__(self, seed: int = 0, **params: Any) -> None:
        self.seed = seed
        self.params = params

    @abstractmethod
    def score(self, X: Array) -> Array:
        """Score of shape (n,): log-odds (binary) or risk score (survival); higher = worse."""

    @abstractmethod
    def contributions(self, X: Array) -> tuple[Array, Array]:
        """SHAP values of shape (n, n_features) and base values (n,) on the score scale."""

    @abstractmethod
    def to_bytes(self) -> bytes:
        """The fitted model in a safe format."""

    @classmethod
    @abstractmethod
    def from_bytes(cls, data: bytes, params: dict[str, Any]) -> RiskModel:
        """Rebuild from :meth:`to_bytes`."""


class BinaryModel(RiskModel):
    kind = "binary"

    @abstractmethod
    def fit(self, X: Array, y: Array) -> BinaryModel:
        """Fit on X (n, k) and 0/1 outcome y (n,) with balanced class weights."""


class SurvivalModel(RiskModel):
    kind = "survival"

    @abstractmethod
    def fit(self, X: Array, time: Array, event: Array) -> SurvivalModel:
        """Fit on X (n, k), follow-up time (n,) and event indicator (n,)."""

    @abstractmethod
    def survival(self, X: Array, times: Array) -> Array:
        """Survival probabilities of shape (n, len(times))."""


# --- linear models ---------------------------------------------------------------------------
class _Linear:
    coef_: Array
    intercept_: float
    mean_: Array

    def _linear_contrib(self, X: Array) -> tuple[Array, Array]:
        contrib = (X - self.mean_) * self.coef_
        base = np.full(len(X), self.intercept_ + float(self.mean_ @ self.coef_))
        return contrib, base


class LogisticModel(_Linear, BinaryModel):
    """L2-penalised logistic regression with balanced class weights."""

    name = "logistic"
    file = "model.json"

    def __init__(self, seed: int = 0, C: float = 1.0) -> None:
        super().__init__(seed, C=C)

    def fit(self, X: Array, y: Array) -> LogisticModel:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=self.params["C"], class_weight="balanced", max_iter=2000)
        lr.fit(X, y)
        self.coef_ = lr.coef_[0].astype(float)
        self.intercept_ = float(lr.intercept_[0])
        self.mean_ = X.mean(axis=0)
        return self

    def score(self, X: Array) -> Array:
        return np.asarray(X @ self.coef_ + self.intercept_)

    def contributions(self, X: Array) -> tuple[Array, Array]:
        return self._linear_contrib(X)

    def to_bytes(self) -> bytes:
        d = {"coef": self.coef_.tolist(), "intercept": self.intercept_, "mean": self.mean_.tolist()}
        return json.dumps(d).encode()

    @classmethod
    def from_bytes(cls, data: bytes, params: dict[str, Any]) -> LogisticModel:
        d = json.loads(data)
        m = cls(**params)
        m.coef_, m.intercept_, m.mean_ = np.array(d["coef"]), d["intercept"], np.array(d["mean"])
        return m


class CoxModel(_Linear, SurvivalModel):
    """Cox proportional hazards (scikit-survival, Efron ties, small ridge penalty)."""

    name = "cox"
    file = "model.json"

    def __init__(self, seed: int = 0, alpha: float = 0.1) -> None:
        super().__init__(seed, alpha=alpha)
        self.intercept_ = 0.0

    def fit(self, X: Array, time: Array, event: Array) -> CoxModel:
        require("sksurv", "risk")
        from sksurv.linear_model import CoxPHSurvivalAnalysis
        from sksurv.util import Surv

        cox = CoxPHSurvivalAnalysis(alpha=self.params["alpha"], ties="efron", n_iter=200)
        cox.fit(X, Surv.from_arrays(event.astype(bool), time))
        self.coef_ = np.asarray(cox.coef_, dtype=float)
        self.base_times_ = np.asarray(cox.cum_baseline_hazard_.x, dtype=float)
        self.base_hazard_ = np.asarray(cox.cum_baseline_hazard_.y, dtype=float)
        self.mean_ = X.mean(axis=0)
        return self

    def score(self, X: Array) -> Array:
        return np.asarray(X @ self.coef_)

    def survival(self, X: Array, times: Array) -> Array:
        idx = np.searchsorted(self.base_times_, np.asarray(times, dtype=float), side="right") - 1
        h0 = np.where(idx >= 0, self.base_hazard_[np.clip(idx, 0, None)], 0.0)
        return np.asarray(np.exp(-np.outer(np.exp(self.score(X)), h0)))

    def contributions(self, X: Array) -> tuple[Array, Array]:
        return self._linear_contrib(X)

    def to_bytes(self) -> bytes:
        d = {
            "coef": self.coef_.tolist(),
            "mean": self.mean_.tolist(),
            "baseline_times": self.base_times_.tolist(),
            "baseline_cumulative_hazard": self.base_hazard_.tolist(),
        }
        return json.dumps(d).encode()

    @classmethod
    def from_bytes(cls, data: bytes, params: dict[str, Any]) -> CoxModel:
        d = json.loads(data)
        m = cls(**params)
        m.coef_, m.mean_ = np.array(d["coef"]), np.array(d["mean"])
        m.base_times_ = np.array(d["baseline_times"])
        m.base_hazard_ = np.array(d["baseline_cumulative_hazard"])
        return m


# --- gradient boosting -----------------------------------------------------------------------
class LightGBMModel(BinaryModel):
    """LightGBM gradient-boosted trees with balanced class weights (deterministic on CPU)."""

    name = "lightgbm"
    file = "model.lgb.txt"

    def __init__(
        self,
        seed: int = 0,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 20,
    ) -> None:
        super().__init__(
            seed,
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
        )

    def fit(self, X: Array, y: Array) -> LightGBMModel:
        lgb = require("lightgbm", "risk")
        clf = lgb.LGBMClassifier(
            **self.params,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            reg_lambda=1.0,
            random_state=self.seed,
            n_jobs=_threads(len(X)),
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )
        clf.fit(X, y, sample_weight=_balanced_weights(y))
        self.booster_ = clf.booster_
        return self

    def score(self, X: Array) -> Array:
        return np.asarray(self.booster_.predict(X, raw_score=True))

    def contributions(self, X: Array) -> tuple[Array, Array]:
        c = np.asarray(self.booster_.predict(X, pred_contrib=True))
        return c[:, :-1], c[:, -1]

    def to_bytes(self) -> bytes:
        return str(self.booster_.model_to_string()).encode()

    @classmethod
    def from_bytes(cls, data: bytes, params: dict[str, Any]) -> LightGBMModel:
        lgb = require("lightgbm", "risk")
        m = cls(**params)
        try:
            m.booster_ = lgb.Booster(model_str=data.decode())
        except Exception as exc:
            raise BundleError(f"the LightGBM model file is not valid: {exc}") from None
        return m


# --- random survival forest ------------------------------------------------------------------
class ForestModel(SurvivalModel):
    """Random survival forest (scikit-survival) kept as flat tree arrays.

    Each tree's leaves store the survival function on a grid of at most ``grid_size`` event
    times (quantiles of the training event times); predictions average the trees' leaves and
    read the survival at a horizon off that grid (step function).
    """

    name = "rsf"
    file = "model.safetensors"
    background_: Array  # rows the permutation SHAP masker draws from

    def __init__(
        self,
        seed: int = 0,
        n_estimators: int = 100,
        min_samples_leaf: int = 15,
        max_features: str = "sqrt",
        grid_size: int = 60,
    ) -> None:
        super().__init__(
            seed,
            n_estimators=n_estimators,
            min_samples_leaf=min_samples_leaf,
            max_features=max_features,
            grid_size=grid_size,
        )

    def fit(self, X: Array, time: Array, event: Array) -> ForestModel:
        require("sksurv", "risk")
        from sksurv.ensemble import RandomSurvivalForest
        from sksurv.util import Surv

        p = self.params
        rsf = RandomSurvivalForest(
            n_estimators=p["n_estimators"],
            min_samples_leaf=max(p["min_samples_leaf"], len(X) // 200),
            max_features=p["max_features"],
            n_jobs=_threads(len(X)),
            random_state=self.seed,
            low_memory=False,
        )
        rsf.fit(X, Surv.from_arrays(event.astype(bool), time))
        times = np.asarray(rsf.unique_times_, dtype=float)
        event_times = np.unique(time[event.astype(bool)])
        grid = np.unique(np.quantile(event_times, np.linspace(0, 1, p["grid_size"])))
        cols = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, len(times) - 1)
        arrays: dict[str, list[Array]] = {k: [] for k in ("left", "right", "feature", "threshold")}
        surv_blocks, offsets = [], [0]
        for est in rsf.estimators_:
            t = est.tree_
            arrays["left"].append(t.children_left.astype(np.int32))
            arrays["right"].append(t.children_right.astype(np.int32))
            arrays["feature"].append(t.feature.astype(np.int32))
            arrays["threshold"].append(t.threshold.astype(np.float64))
            surv_blocks.append(np.asarray(t.value[:, cols, 1], dtype=np.float32))
            offsets.append(offsets[-1] + t.node_count)
        self.tensors_ = {k: np.concatenate(v) for k, v in arrays.items()}
        self.tensors_["survival"] = np.concatenate(surv_blocks)
        self.tensors_["offsets"] = np.asarray(offsets, dtype=np.int64)
        self.tensors_["grid"] = grid
        return self

    def _leaf_survival(self, X: Array) -> Array:
        """Mean over trees of the leaf survival curves, shape (n, len(grid))."""
        t = self.tensors_
        offs = t["offsets"]
        total = np.zeros((len(X), len(t["grid"])))
        rows = np.arange(len(X))
        for i in range(len(offs) - 1):
            node = np.full(len(X), offs[i], dtype=np.int64)
            while True:
                left = t["left"][node]
                inner = left >= 0
                if not inner.any():
                    break
                go_left = X[rows, np.where(inner, t["feature"][node], 0)] <= t["threshold"][node]
                child = np.where(go_left, left, t["right"][node]) + offs[i]
                node = np.where(inner, child, node)
            total += t["survival"][node]
        return np.asarray(total / (len(offs) - 1))

    def survival(self, X: Array, times: Array) -> Array:
        grid = self.tensors_["grid"]
        s = self._leaf_survival(X)
        idx = np.searchsorted(grid, np.asarray(times, dtype=float), side="right") - 1
        return np.asarray(np.where(idx >= 0, s[:, np.clip(idx, 0, None)], 1.0))

    def score(self, X: Array) -> Array:
        s = np.clip(self._leaf_survival(X), 1e-12, 1.0)
        return np.asarray(-np.log(s).sum(axis=1))

    def contributions(self, X: Array) -> tuple[Array, Array]:
        shap = require("shap", "risk")
        background = getattr(self, "background_", X[:50])
        masker = shap.maskers.Independent(background, max_samples=50)
        explainer = shap.PermutationExplainer(self.score, masker, seed=self.seed)
        exp = explainer(X, max_evals=2 * X.shape[1] + 1, silent=True)
        return np.asarray(exp.values), np.asarray(exp.base_values)

    def to_bytes(self) -> bytes:
        from safetensors.numpy import save

        tensors = dict(self.tensors_)
        if hasattr(self, "background_"):
            tensors["background"] = self.background_
        # safetensors writes the raw buffer: strided views must be made contiguous first
        return bytes(save({k: np.ascontiguousarray(v) for k, v in tensors.items()}))

    @classmethod
    def from_bytes(cls, data: bytes, params: dict[str, Any]) -> ForestModel:
        from safetensors.numpy import load

        m = cls(**params)
        try:
            m.tensors_ = dict(load(data))
        except Exception as exc:
            raise BundleError(f"the forest model file is not valid safetensors: {exc}") from None
        if "background" in m.tensors_:
            m.background_ = m.tensors_.pop("background")
        return m


BINARY_MODELS: dict[str, type[BinaryModel]] = {"logistic": LogisticModel, "lightgbm": LightGBMModel}
SURVIVAL_MODELS: dict[str, type[SurvivalModel]] = {"cox": CoxModel, "rsf": ForestModel}


def load_model(name: str, data: bytes, params: dict[str, Any]) -> RiskModel:
    """Rebuild a saved model by its registry name."""
    cls = {**BINARY_MODELS, **SURVIVAL_MODELS}.get(name)
    if cls is None:
        raise BundleError(f"unknown model {name!r} in bundle card")
    return cls.from_bytes(data, params)


# --- calibration -----------------------------------------------------------------------------
class Calibrator:
    """Maps a model's log-odds score to a calibrated probability.

    ``platt``: logistic regression on the score; ``isotonic``: monotone step function,
    interpolated. Fitted on out-of-fold scores so the model never calibrates on its own fit.
    """

    METHODS = ("platt", "isotonic")

    def __init__(self, method: str = "platt") -> None:
        if method not in self.METHODS:
            raise ValueError(f"calibration method {method!r}; use one of {self.METHODS}")
        self.method = method
        self.params_: dict[str, list[float]] = {}

    def fit(self, score: Array, y: Array) -> Calibrator:
        if self.method == "platt":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6, max_iter=1000).fit(score[:, None], y)
            self.params_ = {"a": [float(lr.coef_[0, 0])], "b": [float(lr.intercept_[0])]}
        else:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, y)
            self.params_ = {
                "x": iso.X_thresholds_.astype(float).tolist(),
                "y": iso.y_thresholds_.astype(float).tolist(),
            }
        return self

    def predict(self, score: Array) -> Array:
        if self.method == "platt":
            return _sigmoid(self.params_["a"][0] * score + self.params_["b"][0])
        p = np.interp(score, self.params_["x"], self.params_["y"])
        return np.asarray(np.clip(p, 1e-4, 1 - 1e-4))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        c = cls(d["method"])
        c.params_ = d["params"]
        return c

    @classmethod
    def choose(
        cls, score: Array, y: Array, *, seed: int = 0
    ) -> tuple[Calibrator, dict[str, float]]:
        """Pick Platt or isotonic by 5-fold cross-validated Brier score on (score, y).

        Returns the chosen calibrator fitted on all pairs and the CV Brier of each method.
        """
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        briers: dict[str, float] = {}
        for method in cls.METHODS:
            err = 0.0
            for tr, va in folds.split(score, y):
                p = cls(method).fit(score[tr], y[tr]).predict(score[va])
                err += float(np.sum((p - y[va]) ** 2))
            briers[method] = err / len(y)
        best = min(briers, key=lambda m: briers[m])
        return cls(best).fit(score, y), briers
