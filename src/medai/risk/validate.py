"""Validation of a risk bundle on labelled data: metrics with CIs, subgroups, the HTML report.

Used by :func:`medai.risk.train` (on the held-out test part) and by :func:`evaluate`
(external validation on a new table with the same columns).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medai.core import report as rp
from medai.core.errors import SchemaError
from medai.core.metrics import Estimate, binary_metrics, c_index, survival_metrics
from medai.risk.estimators import SurvivalModel
from medai.risk.model import RISK_GROUPS, RiskBundle, as_frame
from medai.risk.schema import Outcome

__all__ = ["Evaluation", "evaluate", "outcome_arrays"]

Progress = Callable[[str, int, int], None]
MAX_EXPLAIN_ROWS = 500
MIN_SUBGROUP = 10


@dataclass
class Evaluation:
    """Metrics (with 95% CIs), subgroup rows and the validation report of one data set."""

    metrics: dict[str, Estimate]
    subgroups: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    importance: dict[str, float] = field(default_factory=dict)
    report: rp.Report | None = None

    def metrics_dict(self) -> dict[str, dict[str, Any]]:
        return {k: v.to_dict() for k, v in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics_dict(),
            "subgroups": [
                {k: (v.to_dict() if isinstance(v, Estimate) else v) for k, v in row.items()}
                for row in self.subgroups
            ],
            "warnings": self.warnings,
            "importance": self.importance,
        }


def outcome_arrays(df: pd.DataFrame, outcome: Outcome) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows with a known outcome, and the outcome arrays for those rows.

    Returns
    -------
    keep, arrays
        Boolean mask (n_rows,) of rows with the outcome present; ``{"y": ...}`` (0/1) for
        binary outcomes or ``{"time": ..., "event": ...}`` for survival, restricted to ``keep``.
    """
    if outcome.kind == "binary":
        assert outcome.target is not None
        col = df[outcome.target]
        keep = col.notna().to_numpy()
        known = {str(outcome.positive), str(outcome.negative)}
        bad = col.notna() & ~col.astype(str).isin(known)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise SchemaError(
                f"target column {outcome.target!r} has value {str(col[bad].iloc[0])!r} at row "
                f"{row}; the model knows only {sorted(known)}"
            )
        y = (col[keep].astype(str) == str(outcome.positive)).to_numpy(dtype=int)
        return keep, {"y": y}
    assert outcome.time is not None and outcome.event is not None
    t = pd.to_numeric(df[outcome.time], errors="coerce")
    e = pd.to_numeric(df[outcome.event], errors="coerce")
    keep = (t.notna() & e.notna()).to_numpy()
    return keep, {"time": t[keep].to_numpy(dtype=float), "event": e[keep].to_numpy(dtype=int)}


def evaluate(
    bundle: RiskBundle,
    data: pd.DataFrame | str | Path,
    *,
    subgroups: Sequence[str] = (),
    threshold: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Progress | None = None,
) -> Evaluation:
    """External validation: metrics, calibration, subgroups and a report on new labelled data.

    Parameters
    ----------
    bundle
        A trained risk bundle.
    data
        Table (or CSV/Parquet path) with the training columns, outcome included.
    subgroups
        Columns to break metrics down by (numeric columns are cut into quartile bands).
    threshold
        Probability threshold for sensitivity/specificity (default: the bundle's).
    """
    df = as_frame(data)
    bundle.matrix(df.head(1), need_outcome=True)  # column check before any work
    keep, arrays = outcome_arrays(df, bundle.schema.outcome)
    df = df[keep].reset_index(drop=True)
    title = f"External validation — {bundle.card.get('title', 'risk model')}"
    source = Path(data).name if not isinstance(data, pd.DataFrame) else "DataFrame"
    ev = validate(
        bundle,
        df,
        arrays,
        subgroups=subgroups,
        threshold=threshold,
        n_boot=n_boot,
        seed=seed,
        progress=progress,
        train_arrays=None,
    )
    report = rp.Report(title, subtitle=f"data: {source}, {len(df)} rows with a known outcome")
    for t, body in card_sections(bundle.card):
        report.add(t, body)
    for t, body in ev.sections:
        report.add(t, body)
    report.add("Intended use and limitations", rp.limitations_html(bundle.card))
    report.warnings = ev.evaluation.warnings
    ev.evaluation.report = report
    return ev.evaluation


@dataclass
class _Validation:
    evaluation: Evaluation
    sections: list[tuple[str, str]]


def validate(
    bundle: RiskBundle,
    df: pd.DataFrame,
    arrays: dict[str, np.ndarray],
    *,
    subgroups: Sequence[str] = (),
    threshold: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Progress | None = None,
    train_arrays: dict[str, np.ndarray] | None = None,
) -> _Validation:
    """Metrics and the performance sections of the report for labelled rows ``df``."""
    for col in subgroups:
        if col not in df.columns:
            raise SchemaError(f"subgroup column {col!r} is not in the data")
    X = bundle.matrix(df)
    values = bundle.risk_values(X)
    groups = bundle.risk_group(values)
    sections: list[tuple[str, str]] = []
    if progress:
        progress("validating", 0, 3)
    if bundle.kind == "binary":
        y = arrays["y"]
        if len(np.unique(y)) < 2:
            raise SchemaError("the validation data has only one outcome class; AUROC needs both")
        thr = float(bundle.card["output"].get("threshold", 0.5) if threshold is None else threshold)
        metrics = binary_metrics(y, values, threshold=thr, n_boot=n_boot, seed=seed)
        sections.append(
            (
                "Discrimination",
                rp.metrics_table(_pick(metrics, ("auroc", "auprc")))
                + rp.figure_html(rp.roc_figure(y, values), "ROC curve"),
            )
        )
        sections.append(
            (
                "Calibration",
                rp.metrics_table(
                    _pick(metrics, ("brier", "calibration_slope", "calibration_intercept", "ece"))
                )
                + rp.figure_html(rp.calibration_figure(y, values), "calibration curve"),
            )
        )
        sections.append(
            (
                "Clinical usefulness",
                f"<p>At threshold {thr:g} on the calibrated probability:</p>"
                + rp.metrics_table(_pick(metrics, ("sensitivity", "specificity", "ppv", "npv")))
                + rp.figure_html(rp.decision_curve_figure(y, values), "decision curve")
                + _group_table_binary(y, values, groups),
            )
        )
    else:
        time, event = arrays["time"], arrays["event"]
        model = bundle.model
        assert isinstance(model, SurvivalModel)
        horizons = np.asarray(bundle.horizons)
        surv = model.survival(X, horizons)
        ref = train_arrays or arrays
        metrics = survival_metrics(
            ref["time"],
            ref["event"],
            time,
            event,
            values,
            surv=surv,
            times=horizons,
            n_boot=max(100, n_boot // 5),
            seed=seed,
        )
        sections.append(
            (
                "Discrimination",
                rp.metrics_table(metrics)
                + rp.figure_html(
                    rp.km_figure(time, event, groups, RISK_GROUPS), "Kaplan-Meier by risk group"
                ),
            )
        )
        sections.append(("Calibration", _survival_calibration(time, event, surv, horizons, groups)))
        sections.append(
            (
                "Clinical usefulness",
                "<p>Risk groups are cut at the tertiles of the training risk score; the "
                "Kaplan-Meier curves above show how far apart they are.</p>",
            )
        )
    if progress:
        progress("explaining", 1, 3)
    importance, expl_html = _explanations(bundle, X, seed)
    sections.append(("Explanations", expl_html))
    if progress:
        progress("subgroups", 2, 3)
    rows, warnings = _subgroups(bundle, df, arrays, values, metrics, subgroups, n_boot, seed)
    sections.append(
        (
            "Subgroups",
            rp.table_html(rows)
            if subgroups
            else '<p class="muted">No subgroup columns were given (--subgroup COL).</p>',
        )
    )
    if progress:
        progress("done", 3, 3)
    ev = Evaluation(metrics, rows, warnings, importance)
    return _Validation(ev, sections)


def _pick(metrics: dict[str, Estimate], names: Sequence[str]) -> dict[str, Estimate]:
    return {n: metrics[n] for n in names if n in metrics}


def _group_table_binary(y: np.ndarray, p: np.ndarray, groups: np.ndarray) -> str:
    rows = []
    for g in RISK_GROUPS:
        m = groups == g
        if m.any():
            rows.append(
                {
                    "risk group": g,
                    "n": int(m.sum()),
                    "mean predicted": float(p[m].mean()),
                    "observed rate": float(y[m].mean()),
                }
            )
    return "<p>Risk groups (cut at training tertiles):</p>" + rp.table_html(rows)


def _survival_calibration(
    time: np.ndarray, event: np.ndarray, surv: np.ndarray, horizons: np.ndarray, groups: np.ndarray
) -> str:
    """Mean predicted risk vs Kaplan-Meier observed risk by risk group at each horizon."""
    from sksurv.nonparametric import kaplan_meier_estimator

    rows = []
    for g in RISK_GROUPS:
        m = groups == g
        if m.sum() < 2:
            continue
        t, s = kaplan_meier_estimator(event[m].astype(bool), time[m])
        for j, h in enumerate(horizons):
            idx = np.searchsorted(t, h, side="right") - 1
            observed = 1.0 - (s[idx] if idx >= 0 else 1.0)
            rows.append(
                {
                    "risk group": g,
                    "horizon": f"{h:g}",
                    "n": int(m.sum()),
                    "mean predicted risk": float(1 - surv[m, j].mean()),
                    "observed risk (KM)": float(observed),
                }
            )
    return (
        "<p>Predicted risk of the event by each horizon against the Kaplan-Meier estimate "
        "in each risk group.</p>" + rp.table_html(rows)
    )


def _explanations(bundle: RiskBundle, X: np.ndarray, seed: int) -> tuple[dict[str, float], str]:
    rng = np.random.default_rng(seed)
    limit = 100 if bundle.model.name == "rsf" else MAX_EXPLAIN_ROWS
    idx = np.sort(rng.choice(len(X), size=min(limit, len(X)), replace=False))
    exp = bundle._explain_matrix(X[idx])
    names = list(exp.values.columns)
    shap_values = exp.values.to_numpy()
    importance = np.abs(shap_values).mean(axis=0)
    # colour by the (standardised / one-hot) model input of each source column's first feature
    sources = bundle.preprocessor.sources_
    first = [sources.index(n) for n in names]
    feature_values = X[idx][:, first]
    body = (
        f"<p>SHAP values on the {exp.scale} scale for {len(idx)} rows; one-hot columns are "
        "summed back to their source column.</p>"
        + rp.figure_html(rp.shap_summary_figure(names, shap_values, feature_values), "SHAP summary")
        + rp.figure_html(rp.importance_figure(names, importance), "global importance")
    )
    order = np.argsort(-importance)
    return {names[i]: float(importance[i]) for i in order}, body


def subgroup_labels(s: pd.Series) -> pd.Series:
    """Levels of a subgroup column; numeric columns with many values become quartile bands."""
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all() and num.nunique() > 10:
        edges = np.unique(np.quantile(num, [0, 0.25, 0.5, 0.75, 1.0]))
        labels = [f"{lo:.4g}–{hi:.4g}" for lo, hi in itertools.pairwise(edges)]
        cut = pd.cut(num, list(edges), labels=labels, include_lowest=True)
        return cut.astype(str)
    return s.astype(str).where(s.notna(), "missing")


def _subgroups(
    bundle: RiskBundle,
    df: pd.DataFrame,
    arrays: dict[str, np.ndarray],
    values: np.ndarray,
    overall: dict[str, Estimate],
    subgroups: Sequence[str],
    n_boot: int,
    seed: int,
) -> tuple[list[dict[str, Any]], list[str]]:
    from medai.core.metrics import auroc, bootstrap

    binary = bundle.kind == "binary"
    name = "auroc" if binary else "c_index"
    ref = overall[name].estimate
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    for col in subgroups:
        labels = subgroup_labels(df[col]).to_numpy()
        for level in sorted(pd.unique(labels), key=_level_key):
            m = labels == level
            row: dict[str, Any] = {"column": col, "level": str(level), "n": int(m.sum())}
            if binary:
                y = arrays["y"][m]
                row["events"] = int(y.sum())
                usable = m.sum() >= MIN_SUBGROUP and 0 < y.sum() < len(y)
                if usable:
                    est = bootstrap(auroc, [y, values[m]], n_boot=n_boot, seed=seed, stratify=y)
            else:
                t, e = arrays["time"][m], arrays["event"][m]
                row["events"] = int(e.sum())
                usable = m.sum() >= MIN_SUBGROUP and e.sum() >= 2
                if usable:
                    est = bootstrap(
                        c_index,
                        [t, e, values[m]],
                        n_boot=max(100, n_boot // 5),
                        seed=seed,
                        stratify=e,
                    )
            if not usable:
                row[name] = None
                row["95% CI"] = "too few rows or events"
                rows.append(row)
                continue
            row[name] = est.estimate
            row["95% CI"] = f"{est.ci95[0]:.3f} – {est.ci95[1]:.3f}"
            if np.isfinite(est.ci95[1]) and est.ci95[1] < ref:
                warnings.append(
                    f"subgroup {col}={level}: {name} {est.estimate:.3f} "
                    f"(95% CI {est.ci95[0]:.3f}–{est.ci95[1]:.3f}) is below the overall "
                    f"{ref:.3f}; the model may serve this group worse"
                )
            rows.append(row)
    return rows, warnings


def _level_key(level: object) -> tuple[float, str]:
    """Sort numeric bands by their lower edge, other levels by name."""
    head = str(level).split("–")[0]
    try:
        return float(head), ""
    except ValueError:
        return float("inf"), str(level)


def card_sections(card: dict[str, Any]) -> list[tuple[str, str]]:
    """The descriptive TRIPOD+AI sections, filled in from a model card."""
    data = card["training_data"]
    outcome = card["input_schema"]["outcome"]
    cols = card["input_schema"]["columns"]
    split = card["split"]
    model = card["model"]
    rows = [
        {"item": k, "value": v}
        for k, v in (
            ("source", data.get("source")),
            ("rows", data.get("n_rows")),
            ("rows used (outcome known)", data.get("n_used")),
            ("fingerprint (sha256)", str(data.get("fingerprint", ""))[:16] + "…"),
            ("events / positives", data.get("n_events")),
        )
    ]
    if outcome["kind"] == "binary":
        out_html = (
            f"<p>Binary outcome <b>{outcome['target']}</b>; positive class "
            f"<b>{outcome['positive']}</b>. Output: calibrated probability.</p>"
        )
    else:
        out_html = (
            f"<p>Time-to-event outcome: time <b>{outcome['time']}</b>, event "
            f"<b>{outcome['event']}</b>. Output: risk of the event by horizons "
            f"{card['output'].get('horizons')}.</p>"
        )
    pred_rows = [
        {"column": c["name"], "type": c["type"], "role": c["role"], "note": c["reason"]}
        for c in cols
    ]
    miss_rows = [
        {
            "column": c["name"],
            "missing in training (%)": data["missing_pct"].get(c["name"]),
            "values treated as missing": ", ".join(map(str, c["missing_values"])) or "–",
        }
        for c in cols
        if c["role"] == "feature"
    ]
    sel = model.get("selection", [])
    return [
        ("Data source and size", rp.table_html(rows)),
        ("Outcome", out_html),
        ("Predictors", rp.table_html(pred_rows)),
        (
            "Missing data",
            "<p>Imputation inside the pipeline, fitted on training rows only (within each CV fold): "
            "median for numeric, most frequent for binary, an all-zero one-hot row for "
            "categorical columns.</p>" + rp.table_html(miss_rows),
        ),
        (
            "Split and validation",
            rp.table_html([{"item": k, "value": v} for k, v in split.items()]),
        ),
        (
            "Model",
            f"<p>Chosen model: <b>{model['name']}</b> ({model.get('selected_by', '')}). "
            f"Calibration: {model.get('calibration') or 'none'}.</p>" + rp.table_html(sel),
        ),
        (
            "Hyperparameters",
            rp.table_html([{"parameter": k, "value": v} for k, v in model["params"].items()]),
        ),
    ]
