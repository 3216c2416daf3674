"""Tests of medai.core.metrics on real bundled data (breast cancer, diabetes, WHAS500)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medai.core import metrics as M
from medai.core.errors import InvalidInputError

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cancer() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Held-out labels and logistic-regression probabilities on breast-cancer Wisconsin."""
    x, y = load_breast_cancer(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    # a weakly regularised model on few features keeps AUROC below 1 and p not all 0/1
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))
    model.fit(x_tr[:, :4], y_tr)
    return y_te.astype(float), model.predict_proba(x_te[:, :4])[:, 1]


@pytest.fixture(scope="module")
def calibrated() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """y ~ Bernoulli(p): a perfectly calibrated sample."""
    rng = np.random.default_rng(42)
    p = rng.beta(2.0, 3.0, size=20_000)
    y = (rng.random(p.size) < p).astype(float)
    return y, p


# hand example: p >= 0.5 is positive -> TP = 3 (0, 1, 7), FP = 2 (3, 6), FN = 1 (2), TN = 2
Y_HAND = [1, 1, 1, 0, 0, 0, 0, 1]
P_HAND = [0.9, 0.6, 0.4, 0.7, 0.2, 0.1, 0.5, 0.8]


# --------------------------------------------------------------------------- discrimination


def test_discrimination_matches_sklearn(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = cancer
    assert 0.8 < M.auroc(y, p) < 1.0
    assert M.auroc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert M.auprc(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert M.brier(y, p) == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)


def test_discrimination_with_ties_and_lists(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = cancer
    pr = np.round(p, 1)  # many ties
    assert M.auroc(list(y), pd.Series(pr)) == pytest.approx(skm.roc_auc_score(y, pr), abs=1e-12)
    assert M.auprc(y, pr) == pytest.approx(skm.average_precision_score(y, pr), abs=1e-12)
    assert M.auroc([True, False, True], [0.9, 0.1, 0.2]) == 1.0


def test_one_class_is_nan() -> None:
    assert math.isnan(M.auroc([1, 1, 1], [0.2, 0.5, 0.9]))
    assert math.isnan(M.auprc([0, 0, 0], [0.2, 0.5, 0.9]))
    assert all(math.isnan(v) for v in M.calibration_slope_intercept([0, 0], [0.2, 0.4]))


# --------------------------------------------------------------------------- calibration


def test_calibrated_sample(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = calibrated
    slope, intercept = M.calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.08)
    assert intercept == pytest.approx(0.0, abs=0.05)
    assert M.calibration_slope(y, p) == slope
    assert M.calibration_intercept(y, p) == intercept
    assert M.ece(y, p) < 0.02


def test_miscalibrated_sample(calibrated: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = calibrated
    slope, intercept = M.calibration_slope_intercept(y, p**3)
    assert abs(slope - 1.0) > 0.2
    assert intercept > 0.5  # p**3 under-predicts the risk
    assert M.ece(y, p**3) > 0.15
    # over-confident predictions (logit scaled by 2) give slope ~ 0.5
    z = np.log(p / (1 - p))
    assert M.calibration_slope(y, 1 / (1 + np.exp(-2 * z))) == pytest.approx(0.5, abs=0.05)


def test_calibration_fit_matches_sklearn(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = cancer
    z = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(z[:, None], y)
    assert M.calibration_slope(y, p) == pytest.approx(ref.coef_[0, 0], rel=1e-4)
    # calibration-in-the-large: the intercept solves sum(y) = sum(expit(a + z))
    a = M.calibration_intercept(y, p)
    assert np.sum(1 / (1 + np.exp(-(a + z)))) == pytest.approx(y.sum(), abs=1e-6)


def test_separation_gives_nan() -> None:
    slope, _ = M.calibration_slope_intercept([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert math.isnan(slope)


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_calibration_curve_matches_sklearn(
    cancer: tuple[np.ndarray, np.ndarray], strategy: str
) -> None:
    y, p = cancer
    mean_p, frac, count = M.calibration_curve(y, p, n_bins=5, strategy=strategy)  # type: ignore[arg-type]
    ref_frac, ref_p = sk_calibration_curve(y, p, n_bins=5, strategy=strategy)
    np.testing.assert_allclose(mean_p, ref_p)
    np.testing.assert_allclose(frac, ref_frac)
    assert count.sum() == y.size
    assert (count > 0).all()


def test_ece_is_weighted_gap_of_uniform_curve(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = cancer
    mean_p, frac, count = M.calibration_curve(y, p, n_bins=10, strategy="uniform")
    expected = np.sum(count * np.abs(mean_p - frac)) / count.sum()
    assert M.ece(y, p) == pytest.approx(expected)
    assert M.ece([0, 1], [0.0, 1.0]) == 0.0
    assert M.ece([0, 0], [0.3, 0.3]) == pytest.approx(0.3)


# --------------------------------------------------------------------------- clinical usefulness


def test_threshold_metrics_hand_example() -> None:
    got = M.threshold_metrics(Y_HAND, P_HAND, 0.5)
    assert got == pytest.approx(
        {"sensitivity": 3 / 4, "specificity": 2 / 4, "ppv": 3 / 5, "npv": 2 / 3}
    )
    none_positive = M.threshold_metrics(Y_HAND, P_HAND, 0.95)
    assert none_positive["sensitivity"] == 0.0
    assert none_positive["specificity"] == 1.0
    assert math.isnan(none_positive["ppv"])
    assert none_positive["npv"] == 0.5


def test_net_benefit_hand_example() -> None:
    # t = 0.5: TP 3, FP 2, n 8 -> 3/8 - 2/8 * 1; t = 0.2: TP 4, FP 3 -> 4/8 - 3/8 * 0.25
    nb = M.net_benefit(Y_HAND, P_HAND, [0.0, 0.2, 0.5])
    np.testing.assert_allclose(nb, [0.5, 0.40625, 0.125])
    np.testing.assert_allclose(M.net_benefit_treat_all(Y_HAND, [0.0, 0.2, 0.5]), [0.5, 0.375, 0.0])
    assert M.net_benefit(Y_HAND, P_HAND, 0.5).shape == (1,)
    with pytest.raises(InvalidInputError, match=r"\[0, 1\)"):
        M.net_benefit(Y_HAND, P_HAND, [0.5, 1.0])


# --------------------------------------------------------------------------- regression


def test_regression_matches_sklearn() -> None:
    x, y = load_diabetes(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=0)
    yhat = Ridge(alpha=0.1).fit(x_tr, y_tr).predict(x_te)
    assert M.rmse(y_te, yhat) == pytest.approx(np.sqrt(skm.mean_squared_error(y_te, yhat)))
    assert M.mae(y_te, yhat) == pytest.approx(skm.mean_absolute_error(y_te, yhat))
    assert M.r2(y_te, yhat) == pytest.approx(skm.r2_score(y_te, yhat))
    assert math.isnan(M.r2([1.0, 1.0], [1.0, 2.0]))
    res = M.regression_metrics(y_te, yhat, n_boot=200)
    assert list(res) == ["rmse", "mae", "r2"]
    for est in res.values():
        assert est.ci95[0] <= est.estimate <= est.ci95[1]
        assert est.n == y_te.size


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_contains_estimate_and_is_deterministic(
    cancer: tuple[np.ndarray, np.ndarray],
) -> None:
    y, p = cancer
    a = M.bootstrap(M.auroc, [y, p], n_boot=500, seed=1, stratify=y)
    b = M.bootstrap(M.auroc, [y, p], n_boot=500, seed=1, stratify=y)
    c = M.bootstrap(M.auroc, [y, p], n_boot=500, seed=2, stratify=y)
    assert a == b
    assert a.ci95 != c.ci95
    assert a.estimate == M.auroc(y, p)
    assert a.ci95[0] < a.estimate < a.ci95[1]
    assert a.n == y.size
    wider = M.bootstrap(M.auroc, [y, p], n_boot=500, seed=1, stratify=y, alpha=0.01)
    assert wider.ci95[0] <= a.ci95[0] and a.ci95[1] <= wider.ci95[1]


def test_stratified_resamples_keep_class_counts(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    y, _ = cancer

    def n_positive(yy: np.ndarray) -> float:
        return float(yy.sum())

    stratified = M.bootstrap(n_positive, [y], n_boot=200, stratify=y)
    assert stratified.ci95 == (y.sum(), y.sum())
    plain = M.bootstrap(n_positive, [y], n_boot=200)
    assert plain.ci95[0] < y.sum() < plain.ci95[1]


def test_bootstrap_skips_failing_resamples() -> None:
    # unstratified AUROC on 1 positive in 12: about a third of resamples have one class (nan)
    y = np.r_[np.zeros(11), 1.0]
    p = np.linspace(0, 1, 12)
    est = M.bootstrap(M.auroc, [y, p], n_boot=300, seed=0)
    assert est.estimate == 1.0 and est.ci95 == (1.0, 1.0)

    def distinct_only(x: np.ndarray) -> float:
        if np.unique(x).size < x.size:
            raise ValueError("duplicated rows")
        return 1.0

    too_few = M.bootstrap(distinct_only, [np.arange(20)], n_boot=100)
    assert too_few.estimate == 1.0
    assert all(math.isnan(v) for v in too_few.ci95)
    assert too_few.to_dict() == {"estimate": 1.0, "ci95": [None, None], "n": 20}


def test_binary_metrics_set(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = cancer
    res = M.binary_metrics(y, p, n_boot=300, seed=0)
    assert list(res) == [
        "auroc",
        "auprc",
        "brier",
        "calibration_slope",
        "calibration_intercept",
        "ece",
        "sensitivity",
        "specificity",
        "ppv",
        "npv",
    ]
    for name, est in res.items():
        d = est.to_dict()
        assert set(d) == {"estimate", "ci95", "n"}
        assert None not in d["ci95"], name  # type: ignore[operator]
        assert est.ci95[0] <= est.estimate <= est.ci95[1], name
    assert res["auroc"].estimate == M.auroc(y, p)
    assert res["ppv"].estimate == M.threshold_metrics(y, p, 0.5)["ppv"]
    assert res == M.binary_metrics(y, p, n_boot=300, seed=0)


# --------------------------------------------------------------------------- survival


@pytest.fixture(scope="module")
def whas500() -> dict[str, np.ndarray]:
    """Cox model on WHAS500: train/test follow-up, events, risk and survival at horizons."""
    pytest.importorskip("sksurv")
    from sksurv.datasets import load_whas500
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    x, y = load_whas500()
    x = x.astype(float)
    idx_tr, idx_te = train_test_split(
        np.arange(len(y)), test_size=0.4, random_state=0, stratify=y["fstat"]
    )
    model = CoxPHSurvivalAnalysis(alpha=0.1).fit(x.iloc[idx_tr], y[idx_tr])
    times = np.array([180.0, 365.0, 730.0, 1095.0])
    fns = model.predict_survival_function(x.iloc[idx_te])
    return {
        "train_time": y["lenfol"][idx_tr],
        "train_event": y["fstat"][idx_tr],
        "time": y["lenfol"][idx_te],
        "event": y["fstat"][idx_te],
        "risk": model.predict(x.iloc[idx_te]),
        "surv": np.array([fn(times) for fn in fns]),
        "times": times,
        "all_time": y["lenfol"],
        "all_event": y["fstat"],
    }


def test_c_index(whas500: dict[str, np.ndarray]) -> None:
    from sksurv.metrics import concordance_index_censored

    d = whas500
    c = M.c_index(d["time"], d["event"], d["risk"])
    assert 0.6 < c < 0.9
    assert c == concordance_index_censored(d["event"], d["time"], d["risk"])[0]
    assert M.c_index(d["time"], d["event"].astype(int), -d["risk"]) == pytest.approx(1 - c, 1e-3)
    noise = np.random.default_rng(0).random(d["all_time"].size)
    assert M.c_index(d["all_time"], d["all_event"], noise) == pytest.approx(0.5, abs=0.06)


def test_time_dependent_auc_and_brier(whas500: dict[str, np.ndarray]) -> None:
    d = whas500
    common = (d["train_time"], d["train_event"], d["time"], d["event"])
    auc = M.time_dependent_auc(*common, d["risk"], d["times"])
    assert auc.shape == (4,)
    assert ((auc > 0.6) & (auc < 0.95)).all()
    per_horizon = M.time_dependent_auc(*common, 1 - d["surv"], d["times"])
    assert ((per_horizon > 0.6) & (per_horizon < 0.95)).all()
    # horizons in any order give the AUCs in that order
    rev = M.time_dependent_auc(*common, (1 - d["surv"])[:, ::-1], d["times"][::-1])
    np.testing.assert_allclose(rev, per_horizon[::-1])

    ibs = M.integrated_brier(*common, d["surv"], d["times"])
    assert 0.0 < ibs < 0.25
    assert M.integrated_brier(*common, np.full_like(d["surv"], 0.5), d["times"]) > ibs

    with pytest.raises(InvalidInputError, match="follow-up range"):
        M.time_dependent_auc(*common, d["risk"], [365.0, 1e6])
    with pytest.raises(InvalidInputError, match="at least two"):
        M.integrated_brier(*common, d["surv"][:, :1], d["times"][:1])


def test_survival_metrics_set(whas500: dict[str, np.ndarray]) -> None:
    d = whas500
    common = (d["train_time"], d["train_event"], d["time"], d["event"], d["risk"])
    only_c = M.survival_metrics(*common, n_boot=50)
    assert list(only_c) == ["c_index"]
    with pytest.raises(InvalidInputError, match="without times"):
        M.survival_metrics(*common, surv=d["surv"], n_boot=5)
    auc_only = M.survival_metrics(*common, times=[365], n_boot=20)  # no surv: AUC from risk
    assert list(auc_only) == ["c_index", "auc_t365"]

    times = np.r_[d["times"], 1e6]  # the last horizon lies past follow-up: dropped
    surv = np.c_[d["surv"], np.zeros(d["time"].size)]
    res = M.survival_metrics(*common, surv=surv, times=times, n_boot=50, seed=3)
    assert list(res) == [
        "c_index",
        "auc_t180",
        "auc_t365",
        "auc_t730",
        "auc_t1095",
        "integrated_brier",
    ]
    for name, est in res.items():
        assert est.n == d["time"].size
        assert est.ci95[0] <= est.estimate <= est.ci95[1], name
    assert res["c_index"].estimate == M.c_index(d["time"], d["event"], d["risk"])
    assert 0.6 < res["auc_t365"].estimate < 0.95
    assert 0.0 < res["integrated_brier"].estimate < 0.25
    assert res == M.survival_metrics(*common, surv=surv, times=times, n_boot=50, seed=3)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: M.auroc([0, 1, 1], [0.1, 0.2]), "differ in length"),
        (lambda: M.brier([0, 1, 2], [0.1, 0.2, 0.3]), "not 0/1"),
        (lambda: M.auprc([0, 1, 1], [0.1, np.nan, 0.3]), "non-finite"),
        (lambda: M.brier([0, 1], [0.1, 1.3]), r"outside \[0, 1\]"),
        (lambda: M.ece(["a", "b"], [0.1, 0.3]), "could not be read"),
        (lambda: M.auroc([], []), "empty"),
        (lambda: M.rmse([1.0, 2.0], [1.0]), "differ in length"),
        (lambda: M.calibration_curve([0, 1], [0.1, 0.2], strategy="x"), "strategy"),  # type: ignore[arg-type]
        (lambda: M.c_index([-1.0, 2.0], [1, 0], [0.1, 0.2]), "negative"),
        (lambda: M.c_index([1.0, 2.0], [0, 0], [0.1, 0.2]), "censored"),
        (lambda: M.bootstrap(M.auroc, [[0, 1], [0.1, 0.2, 0.3]]), "differ in length"),
        (lambda: M.bootstrap(M.auroc, [[0, 1], [0.1, 0.2]], n_boot=-1), "n_boot"),
    ],
)
def test_bad_input_raises(call: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()  # type: ignore[operator]


def test_error_message_names_received_and_expected() -> None:
    with pytest.raises(InvalidInputError) as info:
        M.brier([0, 1, 5, 1], [0.1, 0.2, 0.3, 0.4])
    msg = str(info.value)
    assert "index 2" in msg and "expected a binary outcome" in msg
    assert isinstance(info.value, ValueError)
