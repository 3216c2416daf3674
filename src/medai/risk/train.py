"""Training a risk bundle: schema, split, repeated cross-validation, model choice, calibration,
test-set validation, model card and report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medai.core import report as rp
from medai.core.bundle import base_card, package_versions
from medai.core.errors import InvalidInputError, SchemaError
from medai.core.metrics import Estimate, auprc, auroc, c_index
from medai.core.tables import fingerprint
from medai.risk.estimators import (
    BINARY_MODELS,
    SURVIVAL_MODELS,
    BinaryModel,
    Calibrator,
    ForestModel,
    RiskModel,
    SurvivalModel,
)
from medai.risk.model import RISK_GROUPS, RiskBundle, as_frame
from medai.risk.preprocess import Preprocessor
from medai.risk.schema import Schema, infer_schema
from medai.risk.validate import card_sections, outcome_arrays, validate

__all__ = ["train"]

Progress = Callable[[str, int, int], None]
Split = tuple[np.ndarray, np.ndarray]


def train(
    data: pd.DataFrame | str | Path,
    *,
    target: str | None = None,
    time: str | None = None,
    event: str | None = None,
    model: str = "auto",
    group: str | None = None,
    subgroups: Sequence[str] = (),
    positive: str | None = None,
    types: Mapping[str, str] | None = None,
    missing: Mapping[str, Sequence[Any]] | None = None,
    keep: Sequence[str] = (),
    horizons: Sequence[float] | None = None,
    test_size: float = 0.2,
    cv_folds: int = 5,
    cv_repeats: int = 2,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Progress | None = None,
) -> RiskBundle:
    """Train, validate and document a binary or survival risk model.

    Parameters
    ----------
    data
        Patient table (DataFrame, CSV or Parquet path), one row per patient (or per visit
        with ``group``).
    target
        Binary outcome column; or give ``time`` and ``event`` for a survival model.
    model
        ``auto`` (best cross-validated AUROC / C-index), ``logistic``, ``lightgbm``
        (binary) or ``cox``, ``rsf`` (survival).
    group
        Patient id column: rows of one patient never straddle train and test or CV folds.
    subgroups
        Columns to report metrics for, per level (numeric ones in quartile bands).
    types, missing, keep, positive
        Schema overrides, see :func:`medai.risk.schema.infer_schema`.
    horizons
        Survival horizons (in the time column's unit); default: quartiles of event times.
    test_size, cv_folds, cv_repeats
        Held-out test fraction; repeated (stratified, grouped) k-fold CV on the rest.
    threshold
        Probability cut-off for sensitivity/specificity/PPV/NPV in the report.
    n_boot, seed
        Bootstrap resamples for 95% CIs; seed for every random step.
    progress
        Optional callback ``(step, done, total)``; the library prints nothing itself.

    Returns
    -------
    RiskBundle
        The fitted model with its card (metrics under ``card["metrics"]["test"|"cv"]``)
        and HTML report; call ``.save(folder)`` to write it.
    """
    if not 0.05 <= test_size <= 0.5:
        raise InvalidInputError(f"test_size {test_size} is out of range; use 0.05 to 0.5")
    if cv_folds < 2 or cv_repeats < 1:
        raise InvalidInputError(
            f"cv_folds must be >= 2 and cv_repeats >= 1 (got {cv_folds}, {cv_repeats})"
        )
    source = "DataFrame" if isinstance(data, pd.DataFrame) else Path(data).name
    raw = as_frame(data)
    schema = infer_schema(
        raw,
        target=target,
        time=time,
        event=event,
        group=group,
        positive=positive,
        types=types,
        missing=missing,
        keep=keep,
    )
    kind = schema.outcome.kind
    registry: dict[str, Any] = BINARY_MODELS if kind == "binary" else SURVIVAL_MODELS
    if model != "auto" and model not in registry:
        raise InvalidInputError(
            f"model {model!r} does not fit a {kind} outcome; use auto or one of {sorted(registry)}"
        )
    for col in subgroups:
        if col not in raw.columns:
            raise SchemaError(f"subgroup column {col!r} is not in the data")
    keep_rows, arrays = outcome_arrays(raw, schema.outcome)
    df = raw[keep_rows].reset_index(drop=True)
    strata = arrays["y"] if kind == "binary" else arrays["event"]
    groups = df[group].astype(str).to_numpy() if group else None
    _check_sizes(strata, cv_folds, test_size)

    train_idx, test_idx = _holdout(strata, groups, test_size, seed)
    tr_df, te_df = (
        df.iloc[train_idx].reset_index(drop=True),
        df.iloc[test_idx].reset_index(drop=True),
    )
    tr = {k: v[train_idx] for k, v in arrays.items()}
    te = {k: v[test_idx] for k, v in arrays.items()}
    folds = _cv_folds(
        strata[train_idx], None if groups is None else groups[train_idx], cv_folds, cv_repeats, seed
    )

    candidates = sorted(registry) if model == "auto" else [model]
    total = len(candidates) * len(folds) + 3
    step = 0
    cv: dict[str, dict[str, Any]] = {}
    for name in candidates:
        oof_scores: list[np.ndarray] = []
        fold_metrics: dict[str, list[float]] = {}
        for k, (f_tr, f_va) in enumerate(folds):
            if progress:
                progress(f"cross-validating {name}", step, total)
            step += 1
            pre = Preprocessor(schema.features).fit(tr_df.iloc[f_tr])
            m = _fit(registry[name](seed=seed), pre.transform(tr_df.iloc[f_tr]), tr, f_tr)
            s = m.score(pre.transform(tr_df.iloc[f_va]))
            for metric, value in _fold_metrics(kind, tr, f_va, s).items():
                fold_metrics.setdefault(metric, []).append(value)
            if k % cv_folds == 0:
                oof_scores.append(np.full(len(tr_df), np.nan))
            oof_scores[-1][f_va] = s
        cv[name] = {"folds": fold_metrics, "oof": oof_scores}
    key = "auroc" if kind == "binary" else "c_index"
    best = max(candidates, key=lambda n: float(np.mean(cv[n]["folds"][key])))

    if progress:
        progress(f"fitting {best}", step, total)
    pre = Preprocessor(schema.features).fit(tr_df)
    X_tr = pre.transform(tr_df)
    final = _fit(registry[best](seed=seed), X_tr, tr, np.arange(len(tr_df)))
    if isinstance(final, ForestModel):
        rng = np.random.default_rng(seed)
        final.background_ = X_tr[rng.choice(len(X_tr), size=min(50, len(X_tr)), replace=False)]
    calibrator, cal_info = None, None
    if kind == "binary":
        oof = np.concatenate(cv[best]["oof"])
        y_rep = np.tile(tr["y"], len(cv[best]["oof"]))
        calibrator, briers = Calibrator.choose(oof, y_rep, seed=seed)
        cal_info = (
            f"{calibrator.method} (chosen by CV Brier: "
            + ", ".join(f"{k} {v:.4f}" for k, v in briers.items())
            + "; fitted on out-of-fold scores)"
        )
    train_values = calibrator.predict(final.score(X_tr)) if calibrator else final.score(X_tr)
    cuts = [float(c) for c in np.quantile(train_values, [1 / 3, 2 / 3])]
    if kind == "survival":
        horizons = _horizons(horizons, tr)

    selection = [
        {
            "model": n,
            **{f"cv {k}": float(np.mean(v)) for k, v in cv[n]["folds"].items()},
            "chosen": "yes" if n == best else "",
        }
        for n in candidates
    ]
    card = base_card("risk", kind, seed=seed)
    outcome = schema.outcome
    card.update(
        {
            "title": (
                f"risk of {outcome.target}={outcome.positive}"
                if kind == "binary"
                else f"time to {outcome.event} ({outcome.time})"
            ),
            "input_schema": schema.to_dict(),
            "output": {
                "meaning": (
                    f"calibrated probability that {outcome.target} = {outcome.positive}"
                    if kind == "binary"
                    else "risk of the event by each horizon (1 - survival) and a risk score"
                ),
                "threshold": threshold,
                "risk_groups": list(RISK_GROUPS),
                "risk_group_cuts": cuts,
                "horizons": [float(h) for h in horizons] if kind == "survival" and horizons else [],
            },
            "training_data": {
                "source": source,
                "fingerprint": fingerprint(raw),
                "n_rows": len(raw),
                "n_used": len(df),
                "n_dropped_missing_outcome": int(len(raw) - len(df)),
                "n_events": int(strata.sum()),
                "missing_pct": _missing_pct(df, schema),
            },
            "split": {
                "method": f"grouped by {group}, stratified" if group else "stratified random",
                "test_fraction": test_size,
                "n_train": len(tr_df),
                "n_test": len(te_df),
                "cv": f"{cv_folds}-fold x {cv_repeats} repeats on the training part",
                "seed": seed,
            },
            "model": {
                "name": best,
                "file": final.file,
                "params": final.params,
                "selected_by": f"mean CV {key}" if model == "auto" else "set by user",
                "selection": selection,
                "calibration": cal_info,
            },
            "packages": package_versions(
                "numpy", "pandas", "scikit-learn", "lightgbm", "scikit-survival", "shap"
            ),
        }
    )
    bundle = RiskBundle(card, schema, pre, final, calibrator)

    if progress:
        progress("validating on the test part", step + 1, total)
    val = validate(
        bundle,
        te_df,
        te,
        subgroups=subgroups,
        threshold=threshold,
        n_boot=n_boot,
        seed=seed,
        train_arrays=tr,
    )
    ev = val.evaluation
    card["metrics"] = {
        "test": ev.metrics_dict(),
        "cv": {k: _fold_estimate(v).to_dict() for k, v in cv[best]["folds"].items()},
    }
    card["subgroups"] = ev.to_dict()["subgroups"]
    card["explanations"] = {
        "method": {
            "logistic": "linear SHAP",
            "cox": "linear SHAP",
            "lightgbm": "TreeSHAP",
            "rsf": "permutation SHAP",
        }[best],
        "importance": ev.importance,
    }
    card["intended_use"] = (
        f"Decision support and research: estimating {card['output']['meaning']} for patients "
        f"like those in {source}. Not a medical device; not for use as the sole basis of a "
        "clinical decision."
    )
    card["limitations"] = _limitations(card, schema, ev.warnings)
    card["warnings"] = ev.warnings

    report = rp.Report(
        f"Validation report — {card['title']}",
        subtitle=f"medai risk · {best} · trained {card['created']}",
    )
    report.warnings = ev.warnings
    for title, body in card_sections(card):
        report.add(title, body)
    cv_table = rp.metrics_table({k: _fold_estimate(v) for k, v in cv[best]["folds"].items()})
    for title, body in val.sections:
        if title == "Discrimination":
            body = (
                "<p>Held-out test part (bootstrap 95% CIs):</p>"
                + body
                + "<p>Cross-validation on the training part (mean; interval = 2.5–97.5 "
                "percentiles of the fold values):</p>" + cv_table
            )
        report.add(title, body)
    report.add("Intended use and limitations", rp.limitations_html(card))
    bundle.report_html = report.to_html()
    if progress:
        progress("done", total, total)
    return bundle


def _fit(
    model: RiskModel, X: np.ndarray, arrays: dict[str, np.ndarray], idx: np.ndarray
) -> RiskModel:
    if isinstance(model, BinaryModel):
        return model.fit(X, arrays["y"][idx])
    assert isinstance(model, SurvivalModel)
    return model.fit(X, arrays["time"][idx], arrays["event"][idx])


def _fold_metrics(
    kind: str, arrays: dict[str, np.ndarray], idx: np.ndarray, s: np.ndarray
) -> dict[str, float]:
    if kind == "binary":
        y = arrays["y"][idx]
        return {"auroc": auroc(y, s), "auprc": auprc(y, s)}
    return {"c_index": c_index(arrays["time"][idx], arrays["event"][idx], s)}


def _fold_estimate(values: Sequence[float]) -> Estimate:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo, hi = np.percentile(v, [2.5, 97.5]) if len(v) else (np.nan, np.nan)
    return Estimate(float(np.mean(v)) if len(v) else float("nan"), (float(lo), float(hi)), len(v))


def _check_sizes(strata: np.ndarray, cv_folds: int, test_size: float) -> None:
    counts = np.bincount(strata.astype(int), minlength=2)
    need = int(np.ceil(cv_folds / (1 - test_size))) + 2
    if counts.min() < need:
        raise InvalidInputError(
            f"the outcome has only {counts.min()} rows in its smaller class (events); "
            f"{cv_folds}-fold CV with a {test_size:g} test part needs at least {need}. "
            "Use fewer --cv-folds or more data"
        )


def _holdout(strata: np.ndarray, groups: np.ndarray | None, test_size: float, seed: int) -> Split:
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    idx = np.arange(len(strata))
    if groups is None:
        tr, te = train_test_split(idx, test_size=test_size, stratify=strata, random_state=seed)
        return np.sort(tr), np.sort(te)
    n_splits = max(2, round(1 / test_size))
    sgk = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    tr, te = next(sgk.split(idx, strata, groups))
    return tr, te


def _cv_folds(
    strata: np.ndarray, groups: np.ndarray | None, k: int, repeats: int, seed: int
) -> list[Split]:
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    folds: list[Split] = []
    idx = np.arange(len(strata))
    for r in range(repeats):
        if groups is None:
            splitter = StratifiedKFold(k, shuffle=True, random_state=seed + r)
            folds += list(splitter.split(idx, strata))
        else:
            splitter_g = StratifiedGroupKFold(k, shuffle=True, random_state=seed + r)
            folds += list(splitter_g.split(idx, strata, groups))
    return folds


def _horizons(horizons: Sequence[float] | None, tr: dict[str, np.ndarray]) -> list[float]:
    times = tr["time"][tr["event"].astype(bool)]
    if horizons:
        h = sorted(float(x) for x in horizons)
        if h[0] <= 0 or h[-1] > tr["time"].max():
            raise InvalidInputError(
                f"horizons {h} must be > 0 and within the follow-up (max {tr['time'].max():g})"
            )
        return h
    return [float(f"{q:.3g}") for q in np.quantile(times, [0.25, 0.5, 0.75])]


def _missing_pct(df: pd.DataFrame, schema: Schema) -> dict[str, float]:
    out = {}
    for c in schema.columns:
        s = df[c.name]
        if c.missing_values:
            s = s.mask(s.isin(c.missing_values))
        out[c.name] = round(100 * float(s.isna().mean()), 1)
    return out


def _limitations(card: dict[str, Any], schema: Schema, warnings: list[str]) -> list[str]:
    data = card["training_data"]
    out = [
        f"Validated on a held-out random part of one data source ({data['source']}); "
        "validate externally (medai risk evaluate) before use at another site or time.",
        "Predictions are only as good as the inputs: the same column meanings, units and "
        "missing-value codes as the training data are required.",
    ]
    if data["n_events"] < 100:
        out.append(
            f"Only {data['n_events']} events/positives: estimates are imprecise "
            "(see the confidence intervals)."
        )
    excluded = [c.name for c in schema.columns if c.role == "excluded"]
    if excluded:
        out.append(f"Columns not used: {', '.join(excluded)} (see Predictors for why).")
    out += warnings
    return out
