"""Benchmarks of the medai risk pillar: accuracy, overhead and scale.

Run from the repository root::

    .venv/bin/python benchmarks/risk.py            # full run (several minutes)
    .venv/bin/python benchmarks/risk.py --quick    # scale section on 10,000 rows

Sections
--------
pima
    Pima Indians diabetes (``../shared/data/tabular/pima_diabetes.csv``): 5x5 repeated
    stratified CV around the real ``medai.risk.train`` pipeline (logistic and LightGBM) and a
    plain scikit-learn reference (median imputation + scaling + logistic regression).
overhead
    Wall time of ``medai risk train`` (the CLI, subprocess) against an equivalent hand-written
    scikit-learn/LightGBM script (also a subprocess), plus ``medai.risk.train`` in-process.
scale
    A seeded synthetic 100,000 x 50 table: training time and peak memory, single-row predict
    latency and batch throughput with and without top-3 explanations. Each measurement runs
    in its own subprocess; peak memory is that subprocess's ``ru_maxrss``.

Results go to ``benchmarks/results/risk.json``; ``BENCHMARKS.md`` summarises them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PIMA = ROOT.parent / "shared" / "data" / "tabular" / "pima_diabetes.csv"
RESULTS = ROOT / "benchmarks" / "results" / "risk.json"
QUICK_RESULTS = Path(tempfile.gettempdir()) / "medai-benchmarks" / "risk-quick.json"
BIN = Path(sys.executable).parent
PIMA_MISSING = ["Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"]
PIMA_REFERENCE_AUROC = 0.83
AUROC_GOAL = 0.83
SLOPE_GOAL = (0.8, 1.2)
OVERHEAD_GOAL = 1.5
PACKAGES = ["medai", "numpy", "pandas", "scipy", "scikit-learn", "lightgbm", "shap", "pyarrow"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pctl(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


# --------------------------------------------------------------------------- machine load


def _cpu_snapshot() -> tuple[float, float, float]:
    """(wall, busy CPU seconds of the whole machine, CPU seconds of this process tree)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(v) for v in fields]
    busy = sum(ticks[i] for i in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")
    own = sum(
        r.ru_utime + r.ru_stime
        for r in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    return time.perf_counter(), busy, own


class CpuMeter:
    """CPU cores kept busy by other processes (and by this benchmark) over an interval.

    The machine may be shared: LightGBM's OpenMP threads slow down by an order of magnitude
    when another process holds a core, so every timing carries the load it ran under.
    """

    def __init__(self) -> None:
        self.start = _cpu_snapshot()

    def result(self) -> dict[str, float]:
        t1, b1, o1 = _cpu_snapshot()
        t0, b0, o0 = self.start
        wall = max(t1 - t0, 1e-9)
        return {
            "other_cpu_cores": round(max(0.0, (b1 - b0) - (o1 - o0)) / wall, 3),
            "own_cpu_cores": round((o1 - o0) / wall, 3),
        }


QUIET_CORES = 0.25


def wait_quiet(max_wait_s: float) -> dict[str, float]:
    """Wait (up to ``max_wait_s``) for a 2 s window with < QUIET_CORES of other CPU load."""
    t0 = time.perf_counter()
    load = 0.0
    while True:
        meter = CpuMeter()
        time.sleep(2.0)
        load = meter.result()["other_cpu_cores"]
        waited = time.perf_counter() - t0
        if load < QUIET_CORES or waited >= max_wait_s:
            if load >= QUIET_CORES:
                log(f"machine still busy ({load:.2f} other cores) after {waited:.0f} s; going on")
            return {"waited_s": round(waited, 1), "other_cpu_cores_before": load}


# --------------------------------------------------------------------------- machine info


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "memory_gib": mem_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


# --------------------------------------------------------------------------- 1. Pima accuracy


def _summary(fold_auroc: list[float], pooled: list[dict[str, float]]) -> dict[str, Any]:
    def mean_of(key: str) -> float:
        return float(np.mean([r[key] for r in pooled]))

    return {
        "auroc_mean": float(np.mean(fold_auroc)),
        "auroc_sd": float(np.std(fold_auroc, ddof=1)),
        "auroc_p2_5": pctl(fold_auroc, 2.5),
        "auroc_p97_5": pctl(fold_auroc, 97.5),
        "auroc_folds": fold_auroc,
        "pooled_auroc_mean": mean_of("auroc"),
        "calibration_slope": mean_of("calibration_slope"),
        "calibration_intercept": mean_of("calibration_intercept"),
        "brier": mean_of("brier"),
        "per_repeat": pooled,
    }


def bench_pima(n_repeats: int) -> dict[str, Any]:
    if not PIMA.exists():
        msg = f"skipped: {PIMA} is absent"
        log(f"pima: {msg}")
        return {"skipped": msg}
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    import medai.risk
    from medai.core import metrics

    df = pd.read_csv(PIMA)
    y = df["Outcome"].to_numpy(dtype=int)
    X_nan = df.drop(columns=["Outcome"])
    X_nan[PIMA_MISSING] = X_nan[PIMA_MISSING].replace(0, np.nan)
    missing = {c: [0] for c in PIMA_MISSING}
    rskf = RepeatedStratifiedKFold(n_splits=5, n_repeats=n_repeats, random_state=0)
    names = ["medai logistic", "medai lightgbm", "sklearn LR (median impute)"]
    oof = {n: np.full((n_repeats, len(df)), np.nan) for n in names}
    fold_auroc: dict[str, list[float]] = {n: [] for n in names}
    train_s: dict[str, list[float]] = {n: [] for n in names}
    calibrators: dict[str, dict[str, int]] = {n: {} for n in names[:2]}
    chosen_n_final: list[int] = []
    for i, (tr, te) in enumerate(rskf.split(X_nan, y)):
        r = i // 5
        train_df = df.iloc[tr].reset_index(drop=True)
        test_x = df.iloc[te].drop(columns=["Outcome"]).reset_index(drop=True)
        for name, model in (("medai logistic", "logistic"), ("medai lightgbm", "lightgbm")):
            t0 = time.perf_counter()
            bundle = medai.risk.train(
                train_df,
                target="Outcome",
                model=model,
                missing=missing,
                test_size=0.05,
                cv_folds=5,
                cv_repeats=1,
                n_boot=0,
                seed=i,
            )
            p = bundle.predict(test_x, top=0)["probability"].to_numpy(dtype=float)
            train_s[name].append(time.perf_counter() - t0)
            oof[name][r, te] = p
            fold_auroc[name].append(metrics.auroc(y[te], p))
            method = bundle.calibrator.method if bundle.calibrator else "none"
            calibrators[name][method] = calibrators[name].get(method, 0) + 1
            chosen_n_final.append(int(bundle.card["split"]["n_train"]))
        name = names[2]
        t0 = time.perf_counter()
        ref = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median")),
                ("scale", StandardScaler()),
                ("lr", LogisticRegression()),
            ]
        ).fit(X_nan.iloc[tr], y[tr])
        p = ref.predict_proba(X_nan.iloc[te])[:, 1]
        train_s[name].append(time.perf_counter() - t0)
        oof[name][r, te] = p
        fold_auroc[name].append(metrics.auroc(y[te], p))
        log(
            f"pima fold {i + 1}/{5 * n_repeats}: "
            + ", ".join(f"{n} {fold_auroc[n][-1]:.3f}" for n in names)
        )

    out: dict[str, Any] = {
        "data": str(PIMA),
        "n_rows": len(df),
        "n_positive": int(y.sum()),
        "n_repeats": n_repeats,
        "protocol": (
            f"RepeatedStratifiedKFold(n_splits=5, n_repeats={n_repeats}, random_state=0). "
            "medai: medai.risk.train(outer-train rows, target='Outcome', model=M, "
            "missing={Glucose,BloodPressure,SkinThickness,Insulin,BMI: [0]}, test_size=0.05, "
            "cv_folds=5, cv_repeats=1, n_boot=0, seed=fold index), then "
            "bundle.predict(outer-test rows, top=0)['probability']. train() holds out "
            "test_size=0.05 of its input, so the final model (and its calibrator, fitted on the "
            "inner out-of-fold scores) is fit on 95% of the outer-train rows. "
            "Reference: Pipeline(SimpleImputer(median), StandardScaler(), LogisticRegression()) "
            "with zeros as NaN in the same columns, fit on all outer-train rows."
        ),
        "metric_notes": (
            "auroc_*: over the per-fold AUROCs (mean, SD with ddof=1, 2.5/97.5 percentiles). "
            "Calibration slope/intercept (medai.core.metrics.calibration_slope_intercept) and "
            "Brier: computed on the pooled out-of-fold predictions of each repeat, then "
            "averaged over repeats; pooled_auroc_mean likewise."
        ),
        "n_final_fit_rows_range": [min(chosen_n_final), max(chosen_n_final)],
        "reference_published_auroc": PIMA_REFERENCE_AUROC,
        "models": {},
    }
    for name in names:
        pooled = []
        for r in range(n_repeats):
            slope, intercept = metrics.calibration_slope_intercept(y, oof[name][r])
            pooled.append(
                {
                    "auroc": metrics.auroc(y, oof[name][r]),
                    "calibration_slope": slope,
                    "calibration_intercept": intercept,
                    "brier": metrics.brier(y, oof[name][r]),
                }
            )
        s = _summary(fold_auroc[name], pooled)
        s["fit_predict_s_mean"] = float(np.mean(train_s[name]))
        if name in calibrators:
            s["calibrator_chosen"] = calibrators[name]
            s["goal_auroc_met"] = s["auroc_mean"] >= AUROC_GOAL
            s["goal_slope_met"] = SLOPE_GOAL[0] <= s["calibration_slope"] <= SLOPE_GOAL[1]
        out["models"][name] = s
    out["goals"] = {
        "auroc_mean_at_least": AUROC_GOAL,
        "calibration_slope_within": list(SLOPE_GOAL),
    }
    return out


# --------------------------------------------------------------------------- 2. overhead

HANDWRITTEN = textwrap.dedent(
    '''
    """Hand-written equivalent of `medai risk train` on Pima (default options)."""
    import time

    T0 = time.perf_counter()
    import json
    import sys
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from lightgbm import LGBMClassifier
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import (
        RepeatedStratifiedKFold, cross_val_score, train_test_split,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    marks = {"imports": time.perf_counter() - T0}
    MISSING = ["Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"]
    data, out = sys.argv[1], Path(sys.argv[2])
    df = pd.read_csv(data)
    df[MISSING] = df[MISSING].replace(0, np.nan)
    X, y = df.drop(columns=["Outcome"]), df["Outcome"].to_numpy()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)

    def prep():
        return [SimpleImputer(strategy="median"), StandardScaler()]

    candidates = {
        "logistic": make_pipeline(
            *prep(), LogisticRegression(class_weight="balanced", max_iter=2000)
        ),
        "lightgbm": make_pipeline(*prep(), LGBMClassifier(
            n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=20,
            subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0,
            class_weight="balanced", random_state=0, n_jobs=2, deterministic=True,
            force_row_wise=True, verbose=-1,
        )),
    }
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)
    cv_auroc = {
        name: float(cross_val_score(m, X_tr, y_tr, cv=cv, scoring="roc_auc").mean())
        for name, m in candidates.items()
    }
    marks["read + split + cv"] = time.perf_counter() - T0
    best = max(cv_auroc, key=cv_auroc.get)
    model = CalibratedClassifierCV(candidates[best], method="sigmoid", cv=5).fit(X_tr, y_tr)
    p = model.predict_proba(X_te)[:, 1]
    marks["calibrated fit + predict"] = time.perf_counter() - T0
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(1000):
        idx = rng.integers(0, len(y_te), len(y_te))
        if 0 < y_te[idx].sum() < len(idx):
            boot.append((roc_auc_score(y_te[idx], p[idx]), brier_score_loss(y_te[idx], p[idx])))
    lo, hi = np.percentile(np.array(boot), [2.5, 97.5], axis=0)
    marks["bootstrap"] = time.perf_counter() - T0
    result = {
        "cv_auroc": cv_auroc,
        "model": best,
        "test_auroc": [roc_auc_score(y_te, p), lo[0], hi[0]],
        "test_brier": [brier_score_loss(y_te, p), lo[1], hi[1]],
        "elapsed_at_end_of_s": marks,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result), file=sys.stderr)
    '''
).lstrip()


RETRIES = 2


def _run(cmd: list[str], max_wait_s: float) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run ``cmd`` after waiting for a quiet machine; wall time and the load it ran under.

    When waiting is on and other processes kept more than QUIET_CORES busy during the run,
    it is run again (at most RETRIES times); the last run is kept and the wall times of the
    disturbed ones are listed under ``disturbed_wall_s``.
    """
    disturbed: list[float] = []
    while True:
        info: dict[str, Any] = wait_quiet(max_wait_s) if max_wait_s > 0 else {}
        meter = CpuMeter()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        info = {"wall_s": time.perf_counter() - t0, **meter.result(), **info}
        if proc.returncode != 0:
            tail = proc.stderr[-3000:]
            raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{tail}")
        busy = info["other_cpu_cores"] > QUIET_CORES
        if not busy or max_wait_s <= 0 or len(disturbed) >= RETRIES:
            info["disturbed_wall_s"] = disturbed
            return proc, info
        log(
            f"run disturbed ({info['other_cpu_cores']:.2f} other cores, "
            f"{info['wall_s']:.1f} s); running it again"
        )
        disturbed.append(info["wall_s"])


def bench_overhead(reps: int, max_wait_s: float) -> dict[str, Any]:
    if not PIMA.exists():
        msg = f"skipped: {PIMA} is absent"
        log(f"overhead: {msg}")
        return {"skipped": msg}
    import medai.risk

    missing_opt = ",".join(PIMA_MISSING) + "=0"
    runs: dict[str, list[dict[str, Any]]] = {
        "medai_cli": [],
        "handwritten": [],
        "python_startup": [],
        "medai_cli_help": [],
    }
    with tempfile.TemporaryDirectory(prefix="medai-bench-") as tmp_s:
        tmp = Path(tmp_s)
        script = tmp / "handwritten_train.py"
        script.write_text(HANDWRITTEN)
        medai_cmd = [
            str(BIN / "medai"),
            "risk",
            "train",
            str(PIMA),
            "--target",
            "Outcome",
            "--missing",
            missing_opt,
            "--out",
        ]
        hand_cmd = [sys.executable, str(script), str(PIMA)]
        cmds = {
            "medai_cli": lambda k: [*medai_cmd, str(tmp / f"bundle{k}")],
            "handwritten": lambda k: [*hand_cmd, str(tmp / f"hand{k}")],
            "python_startup": lambda k: [sys.executable, "-c", "pass"],
            "medai_cli_help": lambda k: [str(BIN / "medai"), "risk", "--help"],
        }
        for k in range(reps):  # interleaved, so drift hits both alike
            for name, cmd in cmds.items():
                runs[name].append(_run(cmd(k), max_wait_s)[1])
            log(
                f"overhead rep {k + 1}/{reps}: medai {runs['medai_cli'][-1]['wall_s']:.2f} s, "
                f"handwritten {runs['handwritten'][-1]['wall_s']:.2f} s"
            )
        hand_results = [
            json.loads((tmp / f"hand{k}" / "metrics.json").read_text()) for k in range(reps)
        ]
        hand_result = hand_results[0]
        hand_marks = {
            k: statistics.median(h["elapsed_at_end_of_s"][k] for h in hand_results)
            for k in hand_result["elapsed_at_end_of_s"]
        }
        card = json.loads((tmp / "bundle0" / "card.json").read_text())

        # in-process, no start-up: one warm-up call (lazy imports), then `reps` timed calls
        kwargs: dict[str, Any] = {"target": "Outcome", "missing": {c: [0] for c in PIMA_MISSING}}
        medai.risk.train(PIMA, **kwargs)
        inproc, save_s, phases, inproc_load = [], [], [], []
        for k in range(reps):
            if max_wait_s > 0:
                wait_quiet(max_wait_s)
            meter = CpuMeter()
            marks: list[tuple[str, float]] = []

            def progress(step: str, done: int, total: int, marks: list = marks) -> None:
                marks.append((step, time.perf_counter()))

            t0 = time.perf_counter()
            bundle = medai.risk.train(PIMA, progress=progress, **kwargs)
            t1 = time.perf_counter()
            bundle.save(tmp / f"inproc{k}")
            save_s.append(time.perf_counter() - t1)
            inproc.append(t1 - t0)
            inproc_load.append(meter.result()["other_cpu_cores"])
            phases.append(_phases(marks, t0))

    times = {k: [r["wall_s"] for r in v] for k, v in runs.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["medai_cli"] / med["handwritten"]
    return {
        "repeats": reps,
        "statistic": "median of the repeats (wall time, seconds, subprocess incl. start-up)",
        "medai_cli_command": shlex.join([*medai_cmd, "TMP"]),
        "handwritten_command": shlex.join([*hand_cmd, "TMP"]),
        "handwritten_script": HANDWRITTEN,
        "handwritten_does": (
            "same 80/20 stratified split (random_state=0); 5-fold x 2 repeats CV of "
            "median-impute+scale+LogisticRegression(class_weight='balanced') and of "
            "median-impute+scale+LGBMClassifier(medai's params, class_weight='balanced'); best "
            "by mean CV AUROC; CalibratedClassifierCV(best, method='sigmoid', cv=5); test AUROC "
            "and Brier with a 1000-resample bootstrap CI; writes metrics.json. medai in "
            "addition picks Platt vs isotonic by CV Brier, computes 10 test metrics with 1000 "
            "bootstrap resamples each, SHAP explanations, the HTML report with figures, and "
            "writes a checksummed bundle."
        ),
        "times_s": times,
        "other_cpu_cores_during": {k: [r["other_cpu_cores"] for r in v] for k, v in runs.items()},
        "median_s": med,
        "ratio_medai_over_handwritten": ratio,
        "goal_ratio_at_most": OVERHEAD_GOAL,
        "goal_met": ratio <= OVERHEAD_GOAL,
        "inprocess_train_s": inproc,
        "inprocess_train_median_s": statistics.median(inproc),
        "inprocess_other_cpu_cores_during": inproc_load,
        "inprocess_save_median_s": statistics.median(save_s),
        "inprocess_phases_s": {k: statistics.median(p[k] for p in phases) for k in phases[0]},
        "medai_test_auroc": card["metrics"]["test"]["auroc"],
        "medai_model": card["model"]["name"],
        "handwritten_result": hand_result,
        "handwritten_elapsed_at_end_of_median_s": hand_marks,
    }


def _phases(marks: list[tuple[str, float]], t0: float) -> dict[str, float]:
    """Seconds spent in each step reported by train()'s progress callback."""
    out: dict[str, float] = {}
    prev_step, prev_t = "setup (schema, split)", t0
    for step, t in marks:
        if step != prev_step:
            out[prev_step] = out.get(prev_step, 0.0) + t - prev_t
            prev_step, prev_t = step, t
    return out


# --------------------------------------------------------------------------- 3. scale


def synthetic_table(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A seeded 50-feature binary-outcome table and the true outcome probabilities.

    40 numeric columns (correlated through 8 latent factors, lab-like locations and scales,
    1-5% missing completely at random), 8 categorical columns with 3-6 levels, 2 binary
    columns; the outcome follows a logistic model with squared, interaction, sine and step
    terms, with the intercept solved for 20% prevalence.
    """
    rng = np.random.default_rng(seed)
    k_num = 40
    latent = rng.standard_normal((n, 8))
    z = latent @ rng.normal(0.0, 0.5, (8, k_num)) + rng.standard_normal((n, k_num))
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    n_levels = [3, 4, 5, 6, 3, 4, 5, 6]
    cat_codes = [rng.choice(m, size=n, p=rng.dirichlet(np.full(m, 3.0))) for m in n_levels]
    binary = (rng.random((n, 2)) < np.array([0.3, 0.55])).astype(int)

    eta = (
        0.6 * z[:, 0]
        - 0.5 * z[:, 1]
        + 0.4 * z[:, 2]
        + 0.3 * z[:, 3]
        - 0.3 * z[:, 4]
        + 0.25 * z[:, 5]
        + 0.5 * (z[:, 6] ** 2 - 1)
        + 0.4 * z[:, 7] * z[:, 8]
        + 0.6 * np.sin(2 * z[:, 9])
        + 0.7 * (z[:, 10] > 1)
        + 0.4 * binary[:, 0]
        - 0.3 * binary[:, 1]
    )
    for j in range(4):
        eta += rng.normal(0.0, 0.5, n_levels[j])[cat_codes[j]]
    lo, hi = -10.0, 10.0
    for _ in range(60):  # intercept for 20% prevalence
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(1 / (1 + np.exp(-(mid + eta)))) < 0.2 else (lo, mid)
    p_true = 1 / (1 + np.exp(-(lo + eta)))
    y = (rng.random(n) < p_true).astype(int)

    cols: dict[str, Any] = {}
    loc, scale = rng.uniform(1, 150, k_num), rng.uniform(0.5, 25, k_num)
    miss_rate = rng.uniform(0.01, 0.05, k_num)
    for j in range(k_num):
        x = np.round(loc[j] + scale[j] * z[:, j], 2)
        x[rng.random(n) < miss_rate[j]] = np.nan
        cols[f"num_{j:02d}"] = x
    for j, m in enumerate(n_levels):
        labels = np.array([f"L{v}" for v in range(m)], dtype=object)
        cols[f"cat_{j}"] = labels[cat_codes[j]]
    for j in range(2):
        cols[f"bin_{j}"] = binary[:, j]
    cols["outcome"] = y
    return pd.DataFrame(cols), p_true


def _vm_mib(field: str) -> float:
    """A ``Vm*`` line of /proc/self/status (VmRSS: resident now, VmHWM: peak) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _median_ms(fn: Callable[[], object], calls: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


PREIMPORT = [
    "lightgbm",
    "matplotlib.pyplot",
    "scipy.optimize",
    "sklearn.isotonic",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
]


def _worker(task: dict[str, Any]) -> dict[str, Any]:
    """One scale measurement, run in a fresh subprocess so its memory peak is its own.

    ``process_peak_rss_mib`` is the subprocess's ru_maxrss. After the imports and the table
    (and bundle) are loaded, the peak mark VmHWM is reset, so ``work_peak_rss_mib`` is the
    peak while the measured work ran (resident baseline included).
    """
    import gc
    import importlib

    import medai.risk
    from medai.risk.model import RiskBundle
    from medai.risk.preprocess import check_columns

    os.environ.setdefault("MPLBACKEND", "Agg")
    for mod in PREIMPORT:  # libraries medai imports lazily: not counted in the work peak
        importlib.import_module(mod)
    df = pd.read_parquet(task["data"])
    res: dict[str, Any] = {}
    if task["op"] != "train":
        x = df.drop(columns=["outcome"])
        del df
        t0 = time.perf_counter()
        bundle = RiskBundle.load(task["bundle"])
        res["load_s"] = time.perf_counter() - t0
    gc.collect()
    res["startup_peak_rss_mib"] = peak_rss_mib()
    res["rss_before_mib"] = _vm_mib("VmRSS")
    res["peak_reset"] = _reset_peak_rss()
    if task["op"] == "train":
        marks: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        bundle = medai.risk.train(
            df,
            target="outcome",
            model=task["model"],
            progress=lambda s, d, t: marks.append((s, time.perf_counter())),
        )
        res["train_s"] = time.perf_counter() - t0
        res["phases_s"] = _phases(marks, t0)
        t1 = time.perf_counter()
        bundle.save(task["bundle"])
        res["save_s"] = time.perf_counter() - t1
        res["test_metrics"] = {
            k: bundle.card["metrics"]["test"][k]
            for k in ("auroc", "brier", "calibration_slope", "calibration_intercept")
        }
        res["n_features"] = len(bundle.preprocessor.feature_names_)
        res["calibration"] = bundle.card["model"]["calibration"]
    elif task["op"] == "latency":
        one = x.iloc[[0]]
        for top in (3, 0):
            bundle.predict(one, top=top)  # warm-up
            calls = []
            for _ in range(task["calls"]):
                t = time.perf_counter()
                bundle.predict(one, top=top)
                calls.append(time.perf_counter() - t)
            res[f"top{top}_ms"] = {
                "median": 1000 * statistics.median(calls),
                "p90": 1000 * pctl(calls, 90),
                "min": 1000 * min(calls),
            }
        X = bundle.matrix(one)
        n = task["calls"]
        res["breakdown_ms"] = {  # medians of the steps predict() takes for one row
            "check_columns": _median_ms(lambda: check_columns(one, bundle.schema), n),
            "preprocessor.transform": _median_ms(lambda: bundle.preprocessor.transform(one), n),
            "risk_values (score + calibration)": _median_ms(lambda: bundle.risk_values(X), n),
            "model.contributions (SHAP)": _median_ms(lambda: bundle.model.contributions(X), n),
            "_explain_matrix (SHAP + aggregation)": _median_ms(
                lambda: bundle._explain_matrix(X), n
            ),
        }
    else:
        top = task["top"]
        runs = []
        for _ in range(task["runs"]):
            t = time.perf_counter()
            bundle.predict(x, top=top)
            runs.append(time.perf_counter() - t)
        res["runs_s"] = runs
        res["median_s"] = statistics.median(runs)
        res["rows_per_s"] = len(x) / statistics.median(runs)
        if top:
            X = bundle.matrix(x)
            t = time.perf_counter()
            bundle.model.contributions(X)
            res["model_contributions_s"] = time.perf_counter() - t
    res["work_peak_rss_mib"] = _vm_mib("VmHWM") if res["peak_reset"] else float("nan")
    res["work_increment_mib"] = res["work_peak_rss_mib"] - res["rss_before_mib"]
    res["process_peak_rss_mib"] = peak_rss_mib()
    return res


def _spawn(task: dict[str, Any], max_wait_s: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(task)]
    proc, info = _run(cmd, max_wait_s)
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    res["subprocess"] = info
    return res


def bench_scale(
    n_rows: int, latency_calls: int, throughput_runs: int, max_wait_s: float
) -> dict[str, Any]:
    from medai.core import metrics

    t0 = time.perf_counter()
    df, p_true = synthetic_table(n_rows, seed=0)
    gen_s = time.perf_counter() - t0
    out: dict[str, Any] = {
        "n_rows": n_rows,
        "n_columns": df.shape[1] - 1,
        "prevalence": float(df["outcome"].mean()),
        "numeric_missing_pct": float(100 * df.filter(like="num_").isna().mean().mean()),
        "oracle_auroc_all_rows": metrics.auroc(df["outcome"].to_numpy(), p_true),
        "generate_s": gen_s,
        "train_options": "medai.risk.train(df, target='outcome', model=M), all other options "
        "default (test_size 0.2, 5-fold x 2 repeats CV, n_boot 1000, seed 0)",
        "memory_method": (
            "process_peak_rss_mib: resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh "
            "subprocess per measurement (peak RSS of the whole process: interpreter, imports, "
            "the table read from Parquet, the measured work). The libraries medai imports "
            "lazily (" + ", ".join(PREIMPORT) + ") are imported, the table (and bundle) "
            "loaded, then the kernel's peak mark is reset (/proc/self/clear_refs = 5; "
            "peak_reset true when it worked): rss_before_mib is VmRSS just before the "
            "measured work, work_peak_rss_mib the VmHWM at its end (peak while it ran, "
            "resident baseline included), work_increment_mib their difference"
        ),
        "latency_method": f"median of {latency_calls} bundle.predict(one_row_df) calls on a "
        "loaded bundle after one warm-up call",
        "throughput_method": f"bundle.predict(all {n_rows} rows, top=K); median of "
        f"{throughput_runs} runs",
        "models": {},
    }
    with tempfile.TemporaryDirectory(prefix="medai-scale-") as tmp_s:
        data = str(Path(tmp_s) / "synthetic.parquet")
        df.to_parquet(data)
        del df
        for model in ("lightgbm", "logistic"):
            bundle = str(Path(tmp_s) / f"bundle-{model}")
            base = {"data": data, "bundle": bundle, "model": model}
            log(f"scale: training {model} on {n_rows} rows")
            r: dict[str, Any] = {"train": _spawn({**base, "op": "train"}, max_wait_s)}
            log(f"scale: {model} trained in {r['train']['train_s']:.1f} s")
            r["latency"] = _spawn({**base, "op": "latency", "calls": latency_calls}, max_wait_s)
            for top in (0, 3):
                r[f"throughput_top{top}"] = _spawn(
                    {**base, "op": "throughput", "top": top, "runs": throughput_runs}, max_wait_s
                )
            log(
                f"scale: {model} latency {r['latency']['top3_ms']['median']:.1f} ms, "
                f"throughput top0 {r['throughput_top0']['rows_per_s']:.0f} rows/s, "
                f"top3 {r['throughput_top3']['rows_per_s']:.0f} rows/s"
            )
            out["models"][model] = r
    return out


# --------------------------------------------------------------------------- summary


def print_summary(res: dict[str, Any]) -> None:
    p = print
    p(
        f"\nmedai risk benchmarks — {res['date']} — {res['machine']['cpu_count']} CPUs, "
        f"Python {res['machine']['python']}"
    )
    pima = res.get("pima")
    if pima and "skipped" not in pima:
        p(f"\n1. Pima diabetes, 5x{pima['n_repeats']} repeated stratified CV")
        p(
            f"{'model':28s} {'AUROC mean':>10s} {'2.5-97.5%':>15s} {'SD':>6s} "
            f"{'slope':>6s} {'interc.':>7s} {'Brier':>6s}  goals"
        )
        for name, m in pima["models"].items():
            goal = ""
            if "goal_auroc_met" in m:
                goal = (
                    f"AUROC {'met' if m['goal_auroc_met'] else 'NOT met'}, "
                    f"slope {'met' if m['goal_slope_met'] else 'NOT met'}"
                )
            p(
                f"{name:28s} {m['auroc_mean']:10.3f} "
                f"{m['auroc_p2_5']:7.3f}-{m['auroc_p97_5']:.3f} {m['auroc_sd']:6.3f} "
                f"{m['calibration_slope']:6.2f} {m['calibration_intercept']:7.2f} "
                f"{m['brier']:6.3f}  {goal}"
            )
        p(f"(published reference: LR with median imputation ≈ {PIMA_REFERENCE_AUROC})")
    elif pima:
        p(f"\n1. Pima: {pima['skipped']}")
    ov = res.get("overhead")
    if ov and "skipped" not in ov:
        m = ov["median_s"]
        p("\n2. Overhead (median wall s)")
        p(f"medai risk train (CLI)    {m['medai_cli']:7.2f}")
        p(f"hand-written script       {m['handwritten']:7.2f}")
        p(
            f"ratio medai/handwritten   {ov['ratio_medai_over_handwritten']:7.2f}  "
            f"(goal ≤ {OVERHEAD_GOAL}: {'met' if ov['goal_met'] else 'NOT met'})"
        )
        p(f"medai.risk.train in-proc  {ov['inprocess_train_median_s']:7.2f}")
        p(f"python -c pass            {m['python_startup']:7.2f}")
        p(f"medai risk --help         {m['medai_cli_help']:7.2f}")
    elif ov:
        p(f"\n2. Overhead: {ov['skipped']}")
    sc = res.get("scale")
    if sc:
        p(f"\n3. Scale: {sc['n_rows']} rows x {sc['n_columns']} columns")
        p(
            f"{'model':9s} {'train s':>8s} {'peak MiB':>9s} {'+MiB':>6s} {'test AUROC':>10s} "
            f"{'1-row ms':>9s} {'1-row ms top0':>13s} {'rows/s top0':>12s} {'rows/s top3':>12s}"
        )
        for name, r in sc["models"].items():
            t = r["train"]
            p(
                f"{name:9s} {t['train_s']:8.1f} {t['process_peak_rss_mib']:9.0f} "
                f"{t['work_increment_mib']:6.0f} "
                f"{t['test_metrics']['auroc']['estimate']:10.3f} "
                f"{r['latency']['top3_ms']['median']:9.1f} {r['latency']['top0_ms']['median']:13.1f} "
                f"{r['throughput_top0']['rows_per_s']:12.0f} "
                f"{r['throughput_top3']['rows_per_s']:12.0f}"
            )
    p(f"\nresults written to {res['results_file']}")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="scale section on 10,000 rows")
    parser.add_argument("--rows", type=int, default=None, help="scale rows (default 100,000)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["pima", "overhead", "scale"],
        default=["pima", "overhead", "scale"],
        help="sections to run",
    )
    parser.add_argument("--pima-repeats", type=int, default=5, help="CV repeats (default 5)")
    parser.add_argument("--reps", type=int, default=3, help="overhead repetitions (default 3)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results JSON (default {RESULTS.relative_to(ROOT)}; with --quick {QUICK_RESULTS})",
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=60.0,
        help="before each timing, wait up to this many seconds for other processes to leave "
        "the CPUs (0: do not wait; default 60)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the sections of an existing results file that this run does not redo "
        "(every section records its own date and command)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker)), default=float))
        return 0

    n_rows = args.rows or (10_000 if args.quick else 100_000)
    if args.out is None:  # a quick run never replaces the full figures
        args.out = QUICK_RESULTS if args.quick else RESULTS
    started = dt.datetime.now(dt.UTC)
    res: dict[str, Any] = {
        "benchmark": "medai risk",
        "date": started.isoformat(timespec="seconds"),
        "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "cwd": str(Path.cwd()),
        "quick": args.quick,
        "machine": machine_info(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }
    sections: dict[str, Callable[[], dict[str, Any]]] = {
        "pima": lambda: bench_pima(args.pima_repeats),
        "overhead": lambda: bench_overhead(args.reps, args.max_wait),
        "scale": lambda: bench_scale(n_rows, 50, 3, args.max_wait),
    }
    for name in ("pima", "overhead", "scale"):
        if name in args.only:
            log(f"section {name}")
            t0, meter = time.perf_counter(), CpuMeter()
            date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            res[name] = {"date": date, "command": res["command"], **sections[name]()}
            res[name]["section_wall_s"] = time.perf_counter() - t0
            res[name]["section_load"] = meter.result()
    res["total_wall_s"] = (dt.datetime.now(dt.UTC) - started).total_seconds()
    res["results_file"] = str(args.out)
    if args.merge and args.out.exists():
        old = json.loads(args.out.read_text())
        for name in ("pima", "overhead", "scale"):
            if name not in res and name in old:
                section = old[name]
                section.setdefault("date", old.get("date"))
                section.setdefault("command", old.get("command"))
                if old.get("machine") != res["machine"]:
                    section["machine"] = old.get("machine")
                res[name] = section
                log(f"kept section {name} from {args.out} ({section['date']})")
    write_json(args.out, res)
    print_summary(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
