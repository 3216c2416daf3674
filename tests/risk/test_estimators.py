from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medai.risk.estimators import (
    Calibrator,
    CoxModel,
    ForestModel,
    LightGBMModel,
    LogisticModel,
    load_model,
)
from medai.risk.preprocess import Preprocessor
from medai.risk.schema import infer_schema


@pytest.fixture(scope="module")
def whas_xy(whas500: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = infer_schema(whas500, time="time", event="event")
    X = Preprocessor(s.features).fit_transform(whas500)
    return X, whas500["time"].to_numpy(float), whas500["event"].to_numpy(int)


@pytest.fixture(scope="module")
def bc_xy(breast_cancer: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    s = infer_schema(breast_cancer, target="malignant")
    return Preprocessor(s.features).fit_transform(breast_cancer), breast_cancer[
        "malignant"
    ].to_numpy()


def test_forest_traversal_matches_scikit_survival(whas_xy) -> None:
    from sksurv.ensemble import RandomSurvivalForest
    from sksurv.util import Surv

    X, t, e = whas_xy
    ours = ForestModel(seed=3, n_estimators=20).fit(X, t, e)
    ref = RandomSurvivalForest(
        n_estimators=20,
        min_samples_leaf=15,
        max_features="sqrt",
        n_jobs=2,
        random_state=3,
        low_memory=False,
    ).fit(X, Surv.from_arrays(e.astype(bool), t))
    grid = ours.tensors_["grid"]
    expected = np.stack([fn(grid) for fn in ref.predict_survival_function(X[:40])])
    np.testing.assert_allclose(ours.survival(X[:40], grid), expected, atol=1e-5)
    # risk score ranks like scikit-survival's ensemble prediction
    from scipy.stats import spearmanr

    assert spearmanr(ours.score(X), ref.predict(X)).statistic > 0.95


def test_cox_matches_scikit_survival(whas_xy) -> None:
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    X, t, e = whas_xy
    ours = CoxModel(alpha=0.1).fit(X, t, e)
    ref = CoxPHSurvivalAnalysis(alpha=0.1, ties="efron").fit(X, Surv.from_arrays(e.astype(bool), t))
    times = np.array([30.0, 365.0, 1000.0])
    expected = np.stack([fn(times) for fn in ref.predict_survival_function(X[:25])])
    np.testing.assert_allclose(ours.survival(X[:25], times), expected, rtol=1e-8)
    np.testing.assert_allclose(ours.score(X), ref.predict(X), rtol=1e-8)


@pytest.mark.parametrize("cls", [LogisticModel, LightGBMModel, CoxModel, ForestModel])
def test_save_load_roundtrip_and_shap_additivity(cls, whas_xy, bc_xy) -> None:
    if cls.kind == "binary":
        X, y = bc_xy
        model = cls(seed=0).fit(X, y)
    else:
        X, t, e = whas_xy
        model = cls(seed=0).fit(X, t, e)
    again = load_model(cls.name, model.to_bytes(), model.params)
    np.testing.assert_allclose(again.score(X[:50]), model.score(X[:50]), rtol=1e-7)
    contrib, base = model.contributions(X[:20])
    assert contrib.shape == (20, X.shape[1])
    np.testing.assert_allclose(
        base + contrib.sum(axis=1), model.score(X[:20]), rtol=1e-4, atol=1e-4
    )


def test_linear_shap_matches_shap_package(bc_xy) -> None:
    import shap

    X, y = bc_xy
    model = LogisticModel().fit(X, y)
    explainer = shap.LinearExplainer(
        (model.coef_, model.intercept_), shap.maskers.Independent(X, max_samples=len(X))
    )
    expected = explainer(X[:10]).values
    ours, _ = model.contributions(X[:10])
    np.testing.assert_allclose(ours, expected, atol=1e-8)


def test_lightgbm_learns_and_is_deterministic(bc_xy) -> None:
    from medai.core.metrics import auroc

    X, y = bc_xy
    a = LightGBMModel(seed=1).fit(X[:400], y[:400])
    b = LightGBMModel(seed=1).fit(X[:400], y[:400])
    assert a.to_bytes() == b.to_bytes()
    assert auroc(y[400:], a.score(X[400:])) > 0.95


def test_calibrators_fix_a_miscalibrated_score() -> None:
    from medai.core.metrics import brier, calibration_slope

    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(int)
    score = 3 * z + 2  # overconfident and shifted log-odds
    for method in Calibrator.METHODS:
        cal = Calibrator(method).fit(score[:2000], y[:2000])
        p = Calibrator.from_dict(cal.to_dict()).predict(score[2000:])
        assert brier(y[2000:], p) < brier(y[2000:], 1 / (1 + np.exp(-score[2000:])))
        if method == "platt":
            assert 0.85 < calibration_slope(y[2000:], p) < 1.15
    chosen, briers = Calibrator.choose(score, y)
    assert chosen.method in Calibrator.METHODS and set(briers) == set(Calibrator.METHODS)
