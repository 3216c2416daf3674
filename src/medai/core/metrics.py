"""Model-performance metrics with seeded bootstrap confidence intervals.

Point metrics take plain arrays (lists, pandas Series and NumPy arrays are accepted) and return
floats; :func:`bootstrap` turns any of them into an :class:`Estimate` with a percentile 95% CI;
:func:`binary_metrics`, :func:`regression_metrics` and :func:`survival_metrics` return the
named sets that model cards and validation reports store as
``{"estimate": x, "ci95": [lo, hi], "n": n}``.

Conventions
-----------
* ``y`` is a binary outcome of shape ``(n,)`` holding 0/1 (or booleans); ``p`` a predicted
  probability (or, for :func:`auroc` and :func:`auprc`, any score) of shape ``(n,)``.
* A metric that is not defined for the data given (one class only, an empty denominator, a
  calibration fit whose maximum-likelihood estimate does not exist) is ``nan``; bad input
  (lengths differ, labels not 0/1, non-finite values) raises
  :class:`~medai.core.errors.InvalidInputError`.
* Survival metrics need scikit-survival (``pip install 'medai[risk]'``); higher ``risk`` means
  an earlier event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medai.core.errors import InvalidInputError, require

__all__ = [
    "Estimate",
    "auprc",
    "auroc",
    "binary_metrics",
    "bootstrap",
    "brier",
    "c_index",
    "calibration_curve",
    "calibration_intercept",
    "calibration_slope",
    "calibration_slope_intercept",
    "ece",
    "integrated_brier",
    "mae",
    "net_benefit",
    "net_benefit_treat_all",
    "r2",
    "regression_metrics",
    "rmse",
    "survival_metrics",
    "threshold_metrics",
    "time_dependent_auc",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_EPS = 1e-6


@dataclass(frozen=True)
class Estimate:
    """A metric's point estimate with its bootstrap 95% confidence interval.

    Attributes
    ----------
    estimate : float
        The metric on the full data (``nan`` when undefined).
    ci95 : tuple of float
        ``(lower, upper)`` percentile bootstrap bounds; ``(nan, nan)`` when too few resamples
        gave a usable value.
    n : int
        Number of rows (samples) the metric was computed on.
    """

    estimate: float
    ci95: tuple[float, float]
    n: int

    def to_dict(self) -> dict[str, object]:
        """Return ``{"estimate": x, "ci95": [lo, hi], "n": n}`` with ``nan`` as ``None``."""
        return {
            "estimate": _none_if_nan(self.estimate),
            "ci95": [_none_if_nan(self.ci95[0]), _none_if_nan(self.ci95[1])],
            "n": int(self.n),
        }


def _none_if_nan(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


# --------------------------------------------------------------------------- validation


def _first_bad(mask: BoolArray) -> int:
    return int(np.flatnonzero(mask)[0])


def _as_1d_float(x: ArrayLike, name: str, *, finite: bool = True) -> FloatArray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} could not be read as numbers ({exc}); expected a 1-D numeric array"
        ) from exc
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} has shape {arr.shape}; expected a 1-D array of shape (n,)")
    if arr.size == 0:
        raise InvalidInputError(f"{name} is empty; expected at least one sample")
    if finite:
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InvalidInputError(
                f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf), first at "
                f"index {_first_bad(bad)}; expected finite numbers - drop or impute those rows"
            )
    return arr


def _as_binary(y: ArrayLike, name: str = "y") -> FloatArray:
    arr = _as_1d_float(y, name, finite=False)
    bad = (arr != 0.0) & (arr != 1.0)
    if bad.any():
        raise InvalidInputError(
            f"{name} contains {int(bad.sum())} value(s) that are not 0/1, first at index "
            f"{_first_bad(bad)}; expected a binary outcome coded 0/1 (or False/True)"
        )
    return arr


def _check_lengths(**arrays: NDArray[Any]) -> int:
    lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        got = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InvalidInputError(
            f"inputs differ in length ({got}); expected one entry per sample in each"
        )
    return next(iter(lengths.values()))


def _check_unit_interval(p: FloatArray, name: str = "p") -> None:
    bad = (p < 0.0) | (p > 1.0)
    if bad.any():
        raise InvalidInputError(
            f"{name} contains {int(bad.sum())} value(s) outside [0, 1], first at index "
            f"{_first_bad(bad)}; expected predicted probabilities"
        )


def _binary_inputs(y: ArrayLike, p: ArrayLike, *, prob: bool) -> tuple[FloatArray, FloatArray]:
    ya = _as_binary(y, "y")
    pa = _as_1d_float(p, "p")
    _check_lengths(y=ya, p=pa)
    if prob:
        _check_unit_interval(pa)
    return ya, pa


def _thresholds(thresholds: ArrayLike) -> FloatArray:
    t = _as_1d_float(np.atleast_1d(np.asarray(thresholds)), "thresholds")
    bad = (t < 0.0) | (t >= 1.0)
    if bad.any():
        raise InvalidInputError(
            f"thresholds contain {int(bad.sum())} value(s) outside [0, 1), first at index "
            f"{_first_bad(bad)}; expected threshold probabilities 0 <= t < 1"
        )
    return t


# --------------------------------------------------------------------------- discrimination


def _rankdata(x: FloatArray) -> FloatArray:
    """Average ranks (1-based) of ``x``, ties sharing their mean rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # start index of each run of equal values
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]
    avg = (starts + ends + 1) / 2.0  # mean of 1-based ranks starts+1 .. ends
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auroc(y: ArrayLike, p: ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney form, ties count one half).

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Score or probability; higher means more likely positive.

    Returns
    -------
    float
        AUROC in [0, 1]; ``nan`` when ``y`` holds one class only.
    """
    ya, pa = _binary_inputs(y, p, prob=False)
    pos = ya == 1.0
    n1 = int(pos.sum())
    n0 = ya.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = _rankdata(pa)
    u = ranks[pos].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n0))


def auprc(y: ArrayLike, p: ArrayLike) -> float:
    """Average precision (step-wise area under the precision-recall curve).

    Same definition as :func:`sklearn.metrics.average_precision_score`:
    ``sum_k (R_k - R_{k-1}) P_k`` over distinct score thresholds.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Score or probability.

    Returns
    -------
    float
        Average precision; ``nan`` when ``y`` has no positives.
    """
    ya, pa = _binary_inputs(y, p, prob=False)
    n_pos = ya.sum()
    if n_pos == 0:
        return math.nan
    order = np.argsort(-pa, kind="mergesort")
    ps, ys = pa[order], ya[order]
    last = np.r_[np.flatnonzero(ps[1:] != ps[:-1]), ps.size - 1]  # end of each tie block
    tp = np.cumsum(ys)[last]
    precision = tp / (last + 1.0)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


# --------------------------------------------------------------------------- calibration


def brier(y: ArrayLike, p: ArrayLike) -> float:
    """Brier score, the mean squared difference between ``p`` and ``y``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Predicted probability in [0, 1].

    Returns
    -------
    float
        Brier score in [0, 1]; lower is better.
    """
    ya, pa = _binary_inputs(y, p, prob=True)
    return float(np.mean((pa - ya) ** 2))


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, _EPS, 1.0 - _EPS)
    return np.asarray(np.log(q) - np.log1p(-q), dtype=np.float64)


def _expit(z: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


def _loglik(y: FloatArray, eta: FloatArray) -> float:
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def _newton_logistic(
    y: FloatArray, x: FloatArray | None, offset: FloatArray, *, max_iter: int = 100
) -> FloatArray:
    """Unpenalised logistic fit of ``y`` on ``[1, x]`` with ``offset``; ``nan`` if no MLE."""
    design = np.ones((y.size, 1)) if x is None else np.column_stack([np.ones(y.size), x])
    beta = np.zeros(design.shape[1])
    eta = offset + design @ beta
    ll = _loglik(y, eta)
    for _ in range(max_iter):
        mu = _expit(eta)
        grad = design.T @ (y - mu)
        hess = (design * (mu * (1.0 - mu))[:, None]).T @ design
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return np.full(design.shape[1], np.nan)
        # step halving keeps the log-likelihood non-decreasing
        for _ in range(30):
            new_beta = beta + step
            new_eta = offset + design @ new_beta
            new_ll = _loglik(y, new_eta)
            if new_ll >= ll - 1e-12:
                break
            step = step / 2.0
        beta, eta, ll = new_beta, new_eta, new_ll
        if np.max(np.abs(step)) < 1e-10:
            return beta
    return np.full(design.shape[1], np.nan)  # not converged: (quasi-)separation


def calibration_slope_intercept(y: ArrayLike, p: ArrayLike) -> tuple[float, float]:
    """Calibration slope and calibration-in-the-large from logistic recalibration.

    ``p`` is clipped to ``[1e-6, 1 - 1e-6]`` and ``z = logit(p)``. The slope is ``b`` in the
    unpenalised fit ``logit P(y=1) = a + b z``; the intercept is ``a`` in the fit
    ``logit P(y=1) = a + z`` (``z`` as an offset). A well-calibrated model has slope 1 and
    intercept 0; slope < 1 means predictions are too extreme.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Predicted probability in [0, 1].

    Returns
    -------
    slope, intercept : float
        ``nan`` when the maximum-likelihood fit does not exist (one class only, or ``logit(p)``
        separates the classes perfectly).
    """
    ya, pa = _binary_inputs(y, p, prob=True)
    if ya.min() == ya.max():
        return math.nan, math.nan
    z = _logit(pa)
    slope = float(_newton_logistic(ya, z, np.zeros_like(z))[1])
    intercept = float(_newton_logistic(ya, None, z)[0])
    return slope, intercept


def calibration_slope(y: ArrayLike, p: ArrayLike) -> float:
    """Calibration slope; see :func:`calibration_slope_intercept`."""
    ya, pa = _binary_inputs(y, p, prob=True)
    if ya.min() == ya.max():
        return math.nan
    z = _logit(pa)
    return float(_newton_logistic(ya, z, np.zeros_like(z))[1])


def calibration_intercept(y: ArrayLike, p: ArrayLike) -> float:
    """Calibration-in-the-large; see :func:`calibration_slope_intercept`."""
    ya, pa = _binary_inputs(y, p, prob=True)
    if ya.min() == ya.max():
        return math.nan
    return float(_newton_logistic(ya, None, _logit(pa))[0])


def _bin_ids(p: FloatArray, n_bins: int, strategy: str) -> NDArray[np.intp]:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise InvalidInputError(f"n_bins is {n_bins!r}; expected a positive integer")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1))
    else:
        raise InvalidInputError(f"strategy is {strategy!r}; expected 'quantile' or 'uniform'")
    return np.searchsorted(edges[1:-1], p)  # same binning as sklearn's calibration_curve


def ece(y: ArrayLike, p: ArrayLike, n_bins: int = 10) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins on [0, 1].

    ``sum_b (n_b / n) * |mean(p in b) - mean(y in b)|``; bins are those of
    :func:`calibration_curve` with ``strategy="uniform"``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Predicted probability in [0, 1].
    n_bins : int, default 10
        Number of equal-width bins.

    Returns
    -------
    float
        ECE in [0, 1]; lower is better.
    """
    ya, pa = _binary_inputs(y, p, prob=True)
    ids = _bin_ids(pa, n_bins, "uniform")
    sum_p = np.bincount(ids, weights=pa, minlength=n_bins)
    sum_y = np.bincount(ids, weights=ya, minlength=n_bins)
    return float(np.sum(np.abs(sum_p - sum_y)) / ya.size)


def calibration_curve(
    y: ArrayLike,
    p: ArrayLike,
    n_bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> tuple[FloatArray, FloatArray, NDArray[np.int64]]:
    """Reliability-diagram points: mean prediction vs observed fraction per bin.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Predicted probability in [0, 1].
    n_bins : int, default 10
        Number of bins.
    strategy : {"quantile", "uniform"}, default "quantile"
        ``"quantile"``: bins hold about equal numbers of samples; ``"uniform"``: equal-width
        bins on [0, 1].

    Returns
    -------
    mean_predicted : ndarray of shape (n_nonempty_bins,)
    observed_fraction : ndarray of shape (n_nonempty_bins,)
    count : ndarray of shape (n_nonempty_bins,)
        Only non-empty bins are returned, in increasing order of prediction.
    """
    ya, pa = _binary_inputs(y, p, prob=True)
    ids = _bin_ids(pa, n_bins, strategy)
    count = np.bincount(ids, minlength=n_bins)
    sum_p = np.bincount(ids, weights=pa, minlength=n_bins)
    sum_y = np.bincount(ids, weights=ya, minlength=n_bins)
    keep = count > 0
    return sum_p[keep] / count[keep], sum_y[keep] / count[keep], count[keep].astype(np.int64)


# --------------------------------------------------------------------------- clinical usefulness


def threshold_metrics(y: ArrayLike, p: ArrayLike, threshold: float) -> dict[str, float]:
    """Sensitivity, specificity, PPV and NPV when ``p >= threshold`` is called positive.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Score or probability.
    threshold : float
        Decision threshold; a sample is predicted positive when ``p >= threshold``.

    Returns
    -------
    dict
        Keys ``sensitivity``, ``specificity``, ``ppv``, ``npv``; a value is ``nan`` when its
        denominator is zero.
    """
    ya, pa = _binary_inputs(y, p, prob=False)
    if not np.isfinite(threshold):
        raise InvalidInputError(f"threshold is {threshold!r}; expected a finite number")
    pred = pa >= threshold
    pos = ya == 1.0
    tp = float(np.sum(pred & pos))
    fp = float(np.sum(pred & ~pos))
    fn = float(np.sum(~pred & pos))
    tn = float(np.sum(~pred & ~pos))

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else math.nan

    return {
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
    }


def net_benefit(y: ArrayLike, p: ArrayLike, thresholds: ArrayLike) -> FloatArray:
    """Decision-curve net benefit of treating when ``p >= t``.

    ``NB(t) = TP/n - FP/n * t / (1 - t)``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Predicted probability in [0, 1].
    thresholds : array-like of shape (k,)
        Threshold probabilities, each in [0, 1).

    Returns
    -------
    ndarray of shape (k,)
        Net benefit at each threshold.
    """
    ya, pa = _binary_inputs(y, p, prob=True)
    t = _thresholds(thresholds)
    n = ya.size
    p_pos = np.sort(pa[ya == 1.0])
    p_neg = np.sort(pa[ya == 0.0])
    tp = p_pos.size - np.searchsorted(p_pos, t, side="left")
    fp = p_neg.size - np.searchsorted(p_neg, t, side="left")
    return np.asarray(tp / n - fp / n * t / (1.0 - t), dtype=np.float64)


def net_benefit_treat_all(y: ArrayLike, thresholds: ArrayLike) -> FloatArray:
    """Net benefit of treating everyone: ``prevalence - (1 - prevalence) * t / (1 - t)``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    thresholds : array-like of shape (k,)
        Threshold probabilities, each in [0, 1).

    Returns
    -------
    ndarray of shape (k,)
    """
    ya = _as_binary(y, "y")
    t = _thresholds(thresholds)
    prev = float(ya.mean())
    return np.asarray(prev - (1.0 - prev) * t / (1.0 - t), dtype=np.float64)


# --------------------------------------------------------------------------- regression


def _regression_inputs(y: ArrayLike, yhat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    ya = _as_1d_float(y, "y")
    yh = _as_1d_float(yhat, "yhat")
    _check_lengths(y=ya, yhat=yh)
    return ya, yh


def rmse(y: ArrayLike, yhat: ArrayLike) -> float:
    """Root mean squared error; ``y`` and ``yhat`` of shape (n,)."""
    ya, yh = _regression_inputs(y, yhat)
    return float(np.sqrt(np.mean((ya - yh) ** 2)))


def mae(y: ArrayLike, yhat: ArrayLike) -> float:
    """Mean absolute error; ``y`` and ``yhat`` of shape (n,)."""
    ya, yh = _regression_inputs(y, yhat)
    return float(np.mean(np.abs(ya - yh)))


def r2(y: ArrayLike, yhat: ArrayLike) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``; ``nan`` when ``y`` is constant."""
    ya, yh = _regression_inputs(y, yhat)
    ss_tot = float(np.sum((ya - ya.mean()) ** 2))
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(np.sum((ya - yh) ** 2)) / ss_tot


# --------------------------------------------------------------------------- survival


def _sksurv_metrics() -> Any:
    return require("sksurv.metrics", "risk")


def _survival_xy(time: ArrayLike, event: ArrayLike, name: str) -> tuple[FloatArray, BoolArray]:
    t = _as_1d_float(time, f"{name}time")
    e = _as_binary(event, f"{name}event").astype(bool)
    _check_lengths(**{f"{name}time": t, f"{name}event": e})
    bad = t < 0
    if bad.any():
        raise InvalidInputError(
            f"{name}time contains {int(bad.sum())} negative value(s), first at index "
            f"{_first_bad(bad)}; expected follow-up times >= 0"
        )
    return t, e


def _structured(time: FloatArray, event: BoolArray) -> NDArray[Any]:
    out = np.empty(time.size, dtype=[("event", bool), ("time", np.float64)])
    out["event"] = event
    out["time"] = time
    return out


def _horizons(times: ArrayLike, test_time: FloatArray) -> FloatArray:
    h = _as_1d_float(np.atleast_1d(np.asarray(times)), "times")
    if np.unique(h).size != h.size:
        raise InvalidInputError("times contain duplicates; expected distinct time horizons")
    lo, hi = float(test_time.min()), float(test_time.max())
    bad = (h < lo) | (h >= hi)
    if bad.any():
        raise InvalidInputError(
            f"times contain {int(bad.sum())} horizon(s) outside the test follow-up range "
            f"[{lo:g}, {hi:g}), first at index {_first_bad(bad)}; choose horizons inside it"
        )
    return h


def _call_sksurv(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except ValueError as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"scikit-survival rejected the input: {exc}") from exc


def c_index(time: ArrayLike, event: ArrayLike, risk: ArrayLike) -> float:
    """Harrell's concordance index; higher ``risk`` should mean an earlier event.

    Parameters
    ----------
    time : array-like of shape (n,)
        Follow-up time (event or censoring).
    event : array-like of shape (n,)
        1/True when the event was observed, 0/False when censored.
    risk : array-like of shape (n,)
        Predicted risk score.

    Returns
    -------
    float
        C-index in [0, 1]; 0.5 is random ordering.
    """
    m = _sksurv_metrics()
    t, e = _survival_xy(time, event, "")
    r = _as_1d_float(risk, "risk")
    _check_lengths(time=t, risk=r)
    if not e.any():
        raise InvalidInputError("all samples are censored; the C-index needs at least one event")
    return float(_call_sksurv(m.concordance_index_censored, e, t, r)[0])


def time_dependent_auc(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    risk: ArrayLike,
    times: ArrayLike,
) -> FloatArray:
    """Cumulative/dynamic AUC at each horizon (IPCW, Uno et al.), via scikit-survival.

    Parameters
    ----------
    train_time, train_event : array-like of shape (n_train,)
        Training follow-up and event indicator, used to estimate the censoring distribution.
    time, event : array-like of shape (n,)
        Test follow-up and event indicator.
    risk : array-like of shape (n,) or (n, k)
        Risk score, the same for all horizons or one column per horizon in ``times``.
    times : array-like of shape (k,)
        Distinct horizons, each in ``[min(time), max(time))``; any order.

    Returns
    -------
    ndarray of shape (k,)
        AUC at each horizon, in the order of ``times``.
    """
    m = _sksurv_metrics()
    tr_t, tr_e = _survival_xy(train_time, train_event, "train_")
    t, e = _survival_xy(time, event, "")
    h = _horizons(times, t)
    r = np.asarray(risk, dtype=np.float64)
    if r.ndim == 1:
        r = _as_1d_float(r, "risk")
    elif r.ndim != 2 or r.shape[1] != h.size:
        raise InvalidInputError(
            f"risk has shape {r.shape}; expected (n,) or (n, {h.size}) (one column per horizon)"
        )
    elif not np.isfinite(r).all():
        raise InvalidInputError("risk contains non-finite values; expected finite risk scores")
    _check_lengths(time=t, risk=r)
    order = np.argsort(h)
    if r.ndim == 2:
        r = r[:, order]
    auc, _ = _call_sksurv(
        m.cumulative_dynamic_auc, _structured(tr_t, tr_e), _structured(t, e), r, h[order]
    )
    out = np.empty(h.size, dtype=np.float64)
    out[order] = auc
    return out


def integrated_brier(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    surv: ArrayLike,
    times: ArrayLike,
) -> float:
    """Integrated Brier score (IPCW) over ``times``, via scikit-survival.

    Parameters
    ----------
    train_time, train_event : array-like of shape (n_train,)
        Training follow-up and event indicator, used to estimate the censoring distribution.
    time, event : array-like of shape (n,)
        Test follow-up and event indicator.
    surv : array-like of shape (n, k)
        Predicted survival probability of each sample at each horizon in ``times``.
    times : array-like of shape (k,)
        At least two distinct horizons, each in ``[min(time), max(time))``; any order.

    Returns
    -------
    float
        Integrated Brier score; lower is better (0.25 is an uninformative 50% prediction).
    """
    m = _sksurv_metrics()
    tr_t, tr_e = _survival_xy(train_time, train_event, "train_")
    t, e = _survival_xy(time, event, "")
    h = _horizons(times, t)
    if h.size < 2:
        raise InvalidInputError(
            f"times has {h.size} horizon; expected at least two for the integrated Brier score"
        )
    s = np.asarray(surv, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != h.size:
        raise InvalidInputError(
            f"surv has shape {s.shape}; expected (n, {h.size}) (one column per horizon)"
        )
    if not np.isfinite(s).all() or (s < 0).any() or (s > 1).any():
        raise InvalidInputError("surv contains values outside [0, 1]; expected probabilities")
    _check_lengths(time=t, surv=s)
    order = np.argsort(h)
    return float(
        _call_sksurv(
            m.integrated_brier_score,
            _structured(tr_t, tr_e),
            _structured(t, e),
            s[:, order],
            h[order],
        )
    )


# --------------------------------------------------------------------------- bootstrap


def bootstrap(
    metric: Callable[..., float],
    arrays: Sequence[ArrayLike],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    stratify: ArrayLike | None = None,
    alpha: float = 0.05,
) -> Estimate:
    """Point estimate and percentile bootstrap CI of ``metric(*arrays)``.

    Rows of all ``arrays`` are resampled together with replacement (within each stratum of
    ``stratify`` when given, each stratum keeping its size). Resamples where the metric raises
    ``ValueError``/``ArithmeticError`` (which includes :class:`InvalidInputError`) or returns
    ``nan`` are skipped; if fewer than half of them are usable, the CI is ``(nan, nan)``.

    Parameters
    ----------
    metric : callable
        ``metric(*arrays) -> float``.
    arrays : sequence of array-like, each of shape (n, ...)
        Inputs of the metric, resampled along their first axis.
    n_boot : int, default 1000
        Number of resamples (0 gives a ``(nan, nan)`` CI).
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; same seed, same CI.
    stratify : array-like of shape (n,), optional
        Stratum label of each row, e.g. the outcome.
    alpha : float, default 0.05
        The CI covers ``1 - alpha``.

    Returns
    -------
    Estimate
        Point estimate on the full data (errors propagate), CI and ``n``.
    """
    arrs = [np.asarray(a) for a in arrays]
    if not arrs:
        raise InvalidInputError("arrays is empty; expected at least one input array")
    if any(a.ndim == 0 for a in arrs):
        raise InvalidInputError("arrays contain a scalar; expected arrays of shape (n, ...)")
    n = _check_lengths(**{f"arrays[{i}]": a for i, a in enumerate(arrs)})
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise InvalidInputError(f"n_boot is {n_boot!r}; expected an integer >= 0")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha is {alpha!r}; expected a number in (0, 1)")

    point = float(metric(*arrs))

    strata: list[NDArray[np.intp]]
    if stratify is None:
        strata = [np.arange(n)]
    else:
        s = np.asarray(stratify)
        if s.ndim != 1:
            raise InvalidInputError(f"stratify has shape {s.shape}; expected shape ({n},)")
        _check_lengths(arrays=arrs[0], stratify=s)
        _, inverse = np.unique(s, return_inverse=True)
        strata = [np.flatnonzero(inverse == k) for k in range(int(inverse.max()) + 1)]

    rng = np.random.default_rng(seed)
    values = np.empty(n_boot, dtype=np.float64)
    for b in range(n_boot):
        if len(strata) == 1:
            idx = strata[0][rng.integers(0, n, size=n)]
        else:
            idx = np.concatenate([g[rng.integers(0, g.size, size=g.size)] for g in strata])
        try:
            values[b] = float(metric(*(a[idx] for a in arrs)))
        except (ValueError, ArithmeticError):
            values[b] = math.nan
    usable = values[~np.isnan(values)]
    if n_boot == 0 or usable.size < n_boot / 2:
        return Estimate(point, (math.nan, math.nan), n)
    lo, hi = np.quantile(usable, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Estimate(point, (float(lo), float(hi)), n)


# --------------------------------------------------------------------------- metric sets


def binary_metrics(
    y: ArrayLike,
    p: ArrayLike,
    *,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Discrimination, calibration and threshold metrics of a binary classifier.

    Parameters
    ----------
    y : array-like of shape (n,)
        Binary outcome, 0/1.
    p : array-like of shape (n,)
        Predicted probability in [0, 1].
    threshold : float, default 0.5
        Decision threshold for sensitivity, specificity, PPV and NPV.
    n_boot : int, default 1000
        Bootstrap resamples, stratified by ``y``.
    seed : int, default 0
        Bootstrap seed (every metric uses the same resamples).

    Returns
    -------
    dict of str to Estimate
        Keys ``auroc``, ``auprc``, ``brier``, ``calibration_slope``,
        ``calibration_intercept``, ``ece``, ``sensitivity``, ``specificity``, ``ppv``, ``npv``.
    """
    ya, pa = _binary_inputs(y, p, prob=True)

    def threshold_metric(key: str) -> Callable[[FloatArray, FloatArray], float]:
        return lambda yy, pp: threshold_metrics(yy, pp, threshold)[key]

    metrics: dict[str, Callable[[FloatArray, FloatArray], float]] = {
        "auroc": auroc,
        "auprc": auprc,
        "brier": brier,
        "calibration_slope": calibration_slope,
        "calibration_intercept": calibration_intercept,
        "ece": ece,
    }
    for key in ("sensitivity", "specificity", "ppv", "npv"):
        metrics[key] = threshold_metric(key)
    return {
        name: bootstrap(fn, [ya, pa], n_boot=n_boot, seed=seed, stratify=ya)
        for name, fn in metrics.items()
    }


def regression_metrics(
    y: ArrayLike, yhat: ArrayLike, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Estimate]:
    """RMSE, MAE and R² with bootstrap CIs.

    Parameters
    ----------
    y, yhat : array-like of shape (n,)
        Observed and predicted values.
    n_boot : int, default 1000
        Bootstrap resamples.
    seed : int, default 0
        Bootstrap seed.

    Returns
    -------
    dict of str to Estimate
        Keys ``rmse``, ``mae``, ``r2``.
    """
    ya, yh = _regression_inputs(y, yhat)
    return {
        name: bootstrap(fn, [ya, yh], n_boot=n_boot, seed=seed)
        for name, fn in (("rmse", rmse), ("mae", mae), ("r2", r2))
    }


def survival_metrics(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    risk: ArrayLike,
    *,
    surv: ArrayLike | None = None,
    times: ArrayLike | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Estimate]:
    """C-index, time-dependent AUC and integrated Brier score with bootstrap CIs.

    Test rows are resampled (stratified by ``event``); the training data only feeds the
    censoring distribution and stays fixed. Resamples that break scikit-survival's range
    requirements (a horizon outside the resample's follow-up) are skipped.

    Parameters
    ----------
    train_time, train_event : array-like of shape (n_train,)
        Training follow-up and event indicator.
    time, event : array-like of shape (n,)
        Test follow-up and event indicator.
    risk : array-like of shape (n,)
        Risk score; higher means an earlier event.
    surv : array-like of shape (n, k), optional
        Survival probability of each test sample at each horizon in ``times``.
    times : array-like of shape (k,), optional
        Horizons. Those outside the test follow-up range ``[min(time), max(time))`` are
        dropped (with their ``surv`` columns), not clipped.
    n_boot : int, default 200
        Bootstrap resamples.
    seed : int, default 0
        Bootstrap seed.

    Returns
    -------
    dict of str to Estimate
        ``c_index`` always. With ``times``: ``auc_t<time>`` per kept horizon (time formatted
        with ``:g``, e.g. ``auc_t365``), from ``1 - surv[:, j]`` when ``surv`` is given, else
        from ``risk``; with ``surv`` and at least two kept horizons also ``integrated_brier``.
    """
    tr_t, tr_e = _survival_xy(train_time, train_event, "train_")
    t, e = _survival_xy(time, event, "")
    r = _as_1d_float(risk, "risk")
    _check_lengths(time=t, risk=r)

    if surv is not None and times is None:
        raise InvalidInputError(
            "surv was given without times; pass the horizons its columns correspond to"
        )
    out = {"c_index": bootstrap(c_index, [t, e, r], n_boot=n_boot, seed=seed, stratify=e)}
    if times is None:
        return out

    h = _as_1d_float(np.atleast_1d(np.asarray(times)), "times")
    s: FloatArray | None = None
    if surv is not None:
        s = np.asarray(surv, dtype=np.float64)
        if s.ndim != 2 or s.shape[1] != h.size:
            raise InvalidInputError(
                f"surv has shape {s.shape}; expected (n, {h.size}) (one column per horizon)"
            )
        _check_lengths(time=t, surv=s)
    keep = (h >= t.min()) & (h < t.max())
    h = h[keep]
    if s is not None:
        s = s[:, keep]

    def auc_at(horizon: float) -> Callable[[FloatArray, BoolArray, FloatArray], float]:
        return lambda tt, ee, rr: float(time_dependent_auc(tr_t, tr_e, tt, ee, rr, [horizon])[0])

    for j, horizon in enumerate(h):
        r_j = r if s is None else 1.0 - s[:, j]
        out[f"auc_t{horizon:g}"] = bootstrap(
            auc_at(float(horizon)), [t, e, r_j], n_boot=n_boot, seed=seed, stratify=e
        )
    if s is not None and h.size >= 2:
        s_kept, h_kept = s, h

        def ibs(tt: FloatArray, ee: BoolArray, ss: FloatArray) -> float:
            return integrated_brier(tr_t, tr_e, tt, ee, ss, h_kept)

        out["integrated_brier"] = bootstrap(
            ibs, [t, e, s_kept], n_boot=n_boot, seed=seed, stratify=e
        )
    return out


# --------------------------------------------------------------------------- multi-class
def accuracy(y: ArrayLike, pred: ArrayLike) -> float:
    """Fraction of predictions equal to the label; ``y`` and ``pred`` of shape (n,)."""
    ya, pa = np.asarray(y), np.asarray(pred)
    _check_lengths(y=ya, pred=pa)
    return float(np.mean(ya == pa))


def macro_auroc(y: ArrayLike, probs: ArrayLike) -> float:
    """One-vs-rest AUROC averaged over the classes present with both outcomes.

    Parameters
    ----------
    y : array-like of shape (n,) with class indices 0..K-1, or (n, K) 0/1 for multi-label
    probs : array-like of shape (n, K)
    """
    ya, pa = np.asarray(y), np.asarray(probs, dtype=float)
    onehot = ya if ya.ndim == 2 else np.eye(pa.shape[1])[ya.astype(int)]
    _check_lengths(y=onehot, probs=pa)
    scores = [auroc(onehot[:, k], pa[:, k]) for k in range(pa.shape[1])]
    usable = [s for s in scores if not math.isnan(s)]
    return float(np.mean(usable)) if usable else math.nan


def macro_f1(y: ArrayLike, pred: ArrayLike) -> float:
    """Macro-averaged F1 over classes (class indices (n,), or 0/1 matrices (n, K))."""
    from sklearn.metrics import f1_score

    ya, pa = np.asarray(y), np.asarray(pred)
    return float(f1_score(ya, pa, average="macro", zero_division=0))


def multiclass_metrics(
    y: ArrayLike, probs: ArrayLike, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Estimate]:
    """``auroc`` (macro one-vs-rest), ``accuracy`` and ``f1`` (macro), stratified by class.

    ``y`` holds class indices (n,); ``probs`` the class probabilities (n, K).
    """
    ya, pa = np.asarray(y).astype(int), np.asarray(probs, dtype=float)

    def acc(t: NDArray[Any], p: NDArray[Any]) -> float:
        return accuracy(t, p.argmax(1))

    def f1(t: NDArray[Any], p: NDArray[Any]) -> float:
        return macro_f1(t, p.argmax(1))

    return {
        name: bootstrap(fn, [ya, pa], n_boot=n_boot, seed=seed, stratify=ya)
        for name, fn in (("auroc", macro_auroc), ("accuracy", acc), ("f1", f1))
    }


def multilabel_metrics(
    y: ArrayLike, probs: ArrayLike, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Estimate]:
    """``auroc`` (macro over labels), ``f1`` (macro at 0.5) and ``accuracy`` (per label, mean).

    ``y`` and ``probs`` have shape (n, K).
    """
    ya, pa = np.asarray(y).astype(int), np.asarray(probs, dtype=float)

    def f1(t: NDArray[Any], p: NDArray[Any]) -> float:
        return macro_f1(t, (p >= 0.5).astype(int))

    def acc(t: NDArray[Any], p: NDArray[Any]) -> float:
        return float(np.mean(t == (p >= 0.5)))

    return {
        name: bootstrap(fn, [ya, pa], n_boot=n_boot, seed=seed)
        for name, fn in (("auroc", macro_auroc), ("accuracy", acc), ("f1", f1))
    }
