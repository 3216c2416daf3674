"""Training and validating molecular property models: D-MPNN, LightGBM, random forest.

:func:`train` reads molecules (or takes a :class:`~medai.molecules.io.MolTable`), splits them
(random, scaffold or stratified), fits an ensemble, measures it on the test part with bootstrap
CIs, and returns a :class:`~medai.molecules.model.MolBundle` with its card and report.
:func:`evaluate` validates a bundle on new labelled molecules.
"""

from __future__ import annotations

import hashlib
import html
import inspect
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medai.core import report as rp
from medai.core.bundle import base_card, package_versions
from medai.core.errors import InvalidInputError, SchemaError, require
from medai.core.metrics import Estimate, auroc, bootstrap, mae, r2, rmse
from medai.molecules.model import (
    AD_BITS,
    AD_RADIUS,
    DEFAULT_AD_THRESHOLD,
    KINDS,
    TASKS,
    DescriptorScaler,
    Forest,
    MolBundle,
    fingerprint_bits,
)

if TYPE_CHECKING:
    from rdkit.Chem import Mol

    from medai.molecules.io import MolTable

__all__ = ["evaluate", "train"]

Progress = Callable[[str, int, int], None]
N_WORST = 8
SPLITS = ("random", "scaffold", "stratified")
#: D-MPNN default batch size: 16 below this many training molecules, else 50
SMALL_TRAIN = 2000


# --- data ---------------------------------------------------------------------------------------
def _as_table(data: Any, smiles_col: str | None, targets: Sequence[str]) -> MolTable:
    from medai.molecules.io import MolTable, read_molecules

    if isinstance(data, MolTable):
        return data
    if not isinstance(data, str | Path):
        raise InvalidInputError(
            f"data must be a file path or a MolTable from read_molecules, got {type(data).__name__}"
        )
    return read_molecules(data, smiles_col=smiles_col, label_cols=list(targets))


def _infer_task(y: np.ndarray, task: str | None) -> str:
    values = y[~np.isnan(y)]
    binary = values.size > 0 and bool(np.isin(values, (0.0, 1.0)).all())
    if task is None:
        if not binary:
            return "regression"
        return "classification" if y.shape[1] == 1 else "multitask"
    if task not in TASKS:
        raise InvalidInputError(f"task {task!r} is unknown; use one of {TASKS} or None to infer")
    if task != "regression":
        if not binary:
            bad = sorted(set(np.unique(values).tolist()) - {0.0, 1.0})[:5]
            raise InvalidInputError(
                f"task {task!r} needs labels 0/1 (blank for missing); found values {bad}"
            )
        return "classification" if y.shape[1] == 1 else "multitask"
    return task


def _split_indices(
    split: str, mols: Sequence[Mol], y: np.ndarray, frac: Sequence[float], seed: int
) -> list[np.ndarray]:
    from medai.molecules.splits import random_split, scaffold_split, stratified_split

    if len(frac) != 3:
        raise InvalidInputError(f"frac must be (train, val, test) fractions, got {tuple(frac)}")
    if split == "random":
        return random_split(len(mols), frac, seed)
    if split == "scaffold":
        return scaffold_split(mols, frac, seed)
    if split == "stratified":
        if y.shape[1] != 1 or np.isnan(y).any():
            raise InvalidInputError(
                "split='stratified' needs one target without missing labels; use 'random' or "
                "'scaffold' for multi-task data"
            )
        return stratified_split(y[:, 0], frac, seed)
    raise InvalidInputError(f"split {split!r} is unknown; use one of {SPLITS}")


# --- metrics ------------------------------------------------------------------------------------
def _masked(fn: Callable[[np.ndarray, np.ndarray], float]) -> Callable[..., float]:
    """Mean over targets of ``fn`` on the non-missing labels of each (NaN-free targets only)."""

    def metric(y: np.ndarray, p: np.ndarray) -> float:
        vals = []
        for j in range(y.shape[1]):
            keep = ~np.isnan(y[:, j])
            try:
                vals.append(fn(y[keep, j], p[keep, j]))
            except (ValueError, ArithmeticError):
                continue
        vals = [v for v in vals if math.isfinite(v)]
        return float(np.mean(vals)) if vals else math.nan

    return metric


def _metrics(
    task: str, targets: list[str], y: np.ndarray, p: np.ndarray, *, n_boot: int, seed: int
) -> dict[str, Estimate]:
    """Test metrics with bootstrap CIs; means over targets plus ``<metric>_<target>``."""
    fns: dict[str, Callable[[np.ndarray, np.ndarray], float]]
    fns = {"auroc": auroc} if task != "regression" else {"rmse": rmse, "mae": mae, "r2": r2}
    out: dict[str, Estimate] = {}
    for name, fn in fns.items():
        out[name] = bootstrap(_masked(fn), [y, p], n_boot=n_boot, seed=seed)
        if len(targets) > 1:
            for j, t in enumerate(targets):
                keep = ~np.isnan(y[:, j])
                yj, pj = y[keep, j], p[keep, j]
                try:
                    strat = yj if task != "regression" else None
                    out[f"{name}_{t}"] = bootstrap(fn, [yj, pj], n_boot=n_boot, seed=seed,
                                                   stratify=strat)  # fmt: skip
                except (ValueError, ArithmeticError):
                    out[f"{name}_{t}"] = Estimate(math.nan, (math.nan, math.nan), int(keep.sum()))
    if task == "classification" and len(targets) == 1:
        keep = ~np.isnan(y[:, 0])
        try:
            out["auroc"] = bootstrap(auroc, [y[keep, 0], p[keep, 0]], n_boot=n_boot, seed=seed,
                                     stratify=y[keep, 0])  # fmt: skip
        except (ValueError, ArithmeticError):
            out["auroc"] = Estimate(math.nan, (math.nan, math.nan), int(keep.sum()))
    return out


def _clean(x: Any) -> Any:
    """NaN/inf floats as None, numpy scalars as Python (card JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# --- model fitting ------------------------------------------------------------------------------
def _fit_mpnn(
    tab: MolTable, idx: dict[str, np.ndarray], y: np.ndarray, task: str, *, descriptors: bool,
    ensemble: int, epochs: int, batch_size: int | None, hidden: int, depth: int, dropout: float,
    ffn_layers: int, aggregation: str, lr: float, patience: int | None, seed: int,
    max_minutes: float | None,
    num_threads: int | None, progress: Progress | None,
) -> tuple[list[Any], DescriptorScaler | None, dict[str, Any]]:  # fmt: skip
    require("torch", "molecules")
    from medai.molecules.features import featurize, mol_graphs
    from medai.molecules.mpnn import MPNNConfig, train_mpnn

    classification = task != "regression"
    graphs = mol_graphs(tab.mols, progress=progress)
    scaler, extra = None, None
    if descriptors:
        raw = featurize(tab.mols, "rdkit2d", dtype=np.float64, progress=progress)
        scaler = DescriptorScaler.fit(raw[idx["train"]])
        extra = scaler.transform(raw)
    if classification:
        mean, std = np.zeros(y.shape[1]), np.ones(y.shape[1])
        ys = y
    else:
        mean = np.nanmean(y[idx["train"]], axis=0)
        std = np.nanstd(y[idx["train"]], axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        ys = (y - mean) / std

    def val_score(yv: np.ndarray, raw_pred: np.ndarray) -> float:
        if classification:
            return _masked(auroc)(yv, raw_pred)
        return -_masked(rmse)(yv, raw_pred)

    config = MPNNConfig(n_tasks=y.shape[1], hidden=hidden, depth=depth, dropout=dropout,
                        ffn_hidden=hidden, ffn_layers=ffn_layers, aggregation=aggregation,
                        n_extra=0 if extra is None else extra.shape[1])  # fmt: skip
    tr, va = idx["train"], idx["val"]
    if batch_size is None:  # small sets learn better from more, smaller steps (ESOL tuning)
        batch_size = 16 if len(tr) < SMALL_TRAIN else 50
    members: list[Any] = []
    histories, best_epochs = [], []
    start = time.perf_counter()
    for i in range(ensemble):
        budget = None
        if max_minutes is not None:
            left = max_minutes * 60 - (time.perf_counter() - start)
            budget = max(left / (ensemble - i), 0.0)
        net, hist, best = train_mpnn(
            config, [graphs[k] for k in tr], ys[tr], [graphs[k] for k in va], ys[va],
            classification=classification,
            extra_train=None if extra is None else extra[tr],
            extra_val=None if extra is None else extra[va],
            val_score=val_score, epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
            seed=seed + i, max_seconds=budget, progress=progress,
            step_name=f"D-MPNN {i + 1}/{ensemble}", num_threads=num_threads,
        )  # fmt: skip
        members.append(net)
        histories.append(hist)
        best_epochs.append(best)
    info = {
        "mpnn": config.to_dict(),
        "descriptors": "rdkit2d (signed log for heavy tails, standardised, clipped ±6)"
        if descriptors else None,
        "target_mean": mean.tolist(),
        "target_std": std.tolist(),
        "parameters": {"epochs": epochs, "batch_size": batch_size, "max_lr": lr,
                       "init_lr": lr / 10, "final_lr": lr / 10, "warmup_epochs": 2,
                       "optimizer": "Adam", "schedule": "Noam-like (chemprop)",
                       "loss": "masked BCE-with-logits" if classification else
                       "masked MSE on standardised targets",
                       "patience": patience, "max_minutes": max_minutes},
        "n_parameters": int(sum(p.numel() for p in members[0].parameters())),
        "best_epochs": best_epochs,
        "history": histories[0],
    }  # fmt: skip
    return members, scaler, info


def _fit_lightgbm(
    x: np.ndarray, y: np.ndarray, idx: dict[str, np.ndarray], task: str, targets: list[str],
    *, ensemble: int, seed: int, num_threads: int | None, progress: Progress | None,
) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
    lgb = require("lightgbm", "molecules")
    classification = task != "regression"
    members: list[Any] = []
    best: list[list[int]] = []
    params = {"n_estimators": 1000, "learning_rate": 0.05, "num_leaves": 31,
              "min_child_samples": 5, "subsample": 0.8, "subsample_freq": 1,
              "colsample_bytree": 0.3, "reg_lambda": 1.0}  # fmt: skip
    tr, va = idx["train"], idx["val"]
    for i in range(ensemble):
        boosters, iters = [], []
        for j, t in enumerate(targets):
            ktr = tr[~np.isnan(y[tr, j])]
            kva = va[~np.isnan(y[va, j])]
            if classification and len(np.unique(y[ktr, j])) < 2:
                raise InvalidInputError(
                    f"target {t!r} has a single class in the training split; it cannot be learnt"
                )
            cls = lgb.LGBMClassifier if classification else lgb.LGBMRegressor
            est = cls(**params, random_state=seed + i, n_jobs=num_threads or 1, verbose=-1)
            fit_kw: dict[str, Any] = {}
            if len(kva) > 0 and (not classification or len(np.unique(y[kva, j])) == 2):
                fit_kw = {"callbacks": [lgb.early_stopping(50, verbose=False)]}
                if "eval_X" in inspect.signature(cls.fit).parameters:  # LightGBM >= 4.6
                    fit_kw.update(eval_X=(x[kva],), eval_y=(y[kva, j],))
                else:
                    fit_kw["eval_set"] = [(x[kva], y[kva, j])]
            est.fit(x[ktr], y[ktr, j], **fit_kw)
            n_iter = int(est.best_iteration_ or est.n_estimators)
            booster = lgb.Booster(model_str=est.booster_.model_to_string(num_iteration=n_iter))
            boosters.append(booster)
            iters.append(n_iter)
        members.append(boosters)
        best.append(iters)
        if progress is not None:
            progress("LightGBM ensemble", i + 1, ensemble)
    return members, {"parameters": {**params, "early_stopping_rounds": 50}, "best_iterations": best}


def _fit_rf(
    x: np.ndarray, y: np.ndarray, idx: dict[str, np.ndarray], task: str, targets: list[str],
    *, n_trees: int, seed: int, num_threads: int | None, progress: Progress | None,
) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    classification = task != "regression"
    params = {"n_estimators": n_trees, "max_features": 0.3 if not classification else "sqrt",
              "min_samples_leaf": 1}  # fmt: skip
    members = []
    tr = idx["train"]
    for j, t in enumerate(targets):
        ktr = tr[~np.isnan(y[tr, j])]
        if classification and len(np.unique(y[ktr, j])) < 2:
            raise InvalidInputError(
                f"target {t!r} has a single class in the training split; it cannot be learnt"
            )
        cls = RandomForestClassifier if classification else RandomForestRegressor
        est = cls(**params, random_state=seed, n_jobs=num_threads or 1)
        est.fit(x[ktr], y[ktr, j].astype(int) if classification else y[ktr, j])
        members.append(Forest.from_sklearn(est))
        if progress is not None:
            progress("random forest", j + 1, len(targets))
    return members, {"parameters": params}


# --- train --------------------------------------------------------------------------------------
def train(
    data: Any,
    *,
    targets: Sequence[str],
    smiles_col: str | None = None,
    model: str = "mpnn",
    task: str | None = None,
    split: str = "random",
    frac: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    ensemble: int = 1,
    epochs: int = 30,
    batch_size: int | None = None,
    features: str | None = None,
    descriptors: bool = False,
    hidden: int = 300,
    depth: int = 3,
    dropout: float = 0.0,
    ffn_layers: int = 2,
    aggregation: str = "sum",
    lr: float = 1e-3,
    patience: int | None = None,
    n_trees: int = 200,
    ad_threshold: float = DEFAULT_AD_THRESHOLD,
    n_boot: int = 1000,
    num_threads: int | None = 1,
    progress: Progress | None = None,
    max_minutes: float | None = None,
) -> MolBundle:
    """Train, validate and document a molecular property model.

    Parameters
    ----------
    data : str, Path or MolTable
        A molecule file (CSV/TSV/Parquet/SDF/.smi, read with
        :func:`~medai.molecules.io.read_molecules`; rejected rows are recorded in the card) or
        an already read table.
    targets : sequence of str
        Label columns; blank cells are missing labels (masked in the loss, skipped in metrics).
    smiles_col : str, optional
        SMILES column (default: found by name).
    model : {"mpnn", "lightgbm", "rf"}
        D-MPNN ensemble, LightGBM ensemble, or a random forest (its trees give the spread).
    task : {"regression", "classification", "multitask"}, optional
        Inferred from the labels: all 0/1 gives classification (``multitask`` with several
        targets), else regression.
    split : {"random", "scaffold", "stratified"}
        How molecules are split into ``frac`` = (train, validation, test).
    seed : int
        Split, initialisation and bootstrap seed (member ``i`` uses ``seed + i``).
    ensemble : int
        Number of members (mean prediction, standard deviation as uncertainty).
    epochs, batch_size, hidden, depth, dropout, ffn_layers, aggregation, lr, patience
        D-MPNN budget and architecture (``aggregation`` of atom vectors: ``"sum"``,
        ``"mean"`` or ``"norm"``, sum / 100) (chemprop defaults: depth 3, hidden 300, peak lr
        1e-3); the best validation epoch is kept; ``patience`` stops early. ``batch_size``
        None: 16 below 2,000 training molecules, else 50. The defaults ``aggregation="sum"``
        and small batches were chosen on ESOL validation RMSE
        (``benchmarks/results/molecules_esol_tuning.md``).
    features : str, optional
        Tree-model featuriser (default ``"morgan+rdkit2d"``). For ``mpnn``, ``"rdkit2d"``
        is the same as ``descriptors=True``.
    descriptors : bool
        D-MPNN + features: concatenate normalised RDKit 2D descriptors before the FFN.
    n_trees : int
        Trees of the random forest.
    ad_threshold : float
        ``in_domain`` is ``nn_similarity >= ad_threshold``.
    n_boot, num_threads, progress, max_minutes
        Bootstrap resamples; CPU threads (1 is fastest on shared machines); callback
        ``(step, done, total)``; D-MPNN wall-time budget (checked after each epoch).

    Returns
    -------
    MolBundle
        With ``card`` (data fingerprint, split, counts, rejected rows, test metrics with 95%
        CIs, limitations) and ``report_html``.
    """
    if model not in KINDS:
        raise InvalidInputError(f"model {model!r} is unknown; use one of {KINDS}")
    targets = [targets] if isinstance(targets, str) else list(targets)
    if not targets:
        raise InvalidInputError("targets is empty; name at least one label column")
    if ensemble < 1 or epochs < 1 or (batch_size is not None and batch_size < 1) or n_trees < 1:
        raise InvalidInputError("ensemble, epochs, batch_size and n_trees must be at least 1")
    if not 0.0 <= ad_threshold <= 1.0:
        raise InvalidInputError(f"ad_threshold must be in [0, 1], got {ad_threshold}")
    if model == "mpnn":
        if features not in (None, "none", "rdkit2d"):
            raise InvalidInputError(
                f"a D-MPNN takes features None or 'rdkit2d' (descriptors), got {features!r}"
            )
        descriptors = descriptors or features == "rdkit2d"
        features = "rdkit2d" if descriptors else None
    else:
        features = features or "morgan+rdkit2d"
    start = time.perf_counter()
    tab = _as_table(data, smiles_col, targets)
    missing = [t for t in targets if t not in tab.frame.columns]
    if missing:
        raise SchemaError(f"target column(s) {missing} not in the data; columns: "
                          f"{list(tab.frame.columns)}")  # fmt: skip
    y_all = tab.labels(targets)
    labelled = np.flatnonzero(~np.isnan(y_all).all(1))
    n_unlabelled = len(y_all) - len(labelled)
    if len(labelled) < 10:
        raise InvalidInputError(f"only {len(labelled)} labelled molecules; need at least 10")
    mols = [tab.mols[i] for i in labelled]
    smiles = [tab.smiles[i] for i in labelled]
    y = y_all[labelled]
    task = _infer_task(y, task)
    sub = _subtable(tab, labelled)
    parts = _split_indices(split, mols, y, frac, seed)
    idx = dict(zip(("train", "val", "test"), parts, strict=True))
    for name, ids in idx.items():
        if len(ids) < 2:
            raise InvalidInputError(f"the {name} split has {len(ids)} molecules; need more data "
                                    "or larger fractions")  # fmt: skip

    scaler = None
    feature_params: dict[str, Any] = {}
    if model == "mpnn":
        members, scaler, info = _fit_mpnn(
            sub, idx, y, task, descriptors=descriptors, ensemble=ensemble, epochs=epochs,
            batch_size=batch_size, hidden=hidden, depth=depth, dropout=dropout,
            ffn_layers=ffn_layers, aggregation=aggregation, lr=lr, patience=patience,
            seed=seed, max_minutes=max_minutes,
            num_threads=num_threads, progress=progress,
        )  # fmt: skip
    else:
        from medai.molecules.features import featurize

        x = featurize(mols, str(features), progress=progress)
        if model == "lightgbm":
            members, info = _fit_lightgbm(x, y, idx, task, targets, ensemble=ensemble, seed=seed,
                                          num_threads=num_threads, progress=progress)  # fmt: skip
        else:
            members, info = _fit_rf(x, y, idx, task, targets, n_trees=n_trees, seed=seed,
                                    num_threads=num_threads, progress=progress)  # fmt: skip
    train_seconds = time.perf_counter() - start

    card: dict[str, Any] = base_card("molecules", task, seed=seed)
    card["input"] = {"kind": "SMILES", "smiles_col": tab.smiles_col, "standardize": True,
                     "max_atoms": 1000}  # fmt: skip
    card["output"] = {"targets": targets,
                      "meaning": "probability of label 1 per target (p_<target>)"
                      if task != "regression" else "predicted value per target (pred_<target>)",
                      "uncertainty": "std_<target>: standard deviation over ensemble members"
                      + (" (trees)" if model == "rf" else "")}  # fmt: skip
    card["model"] = {"kind": model, "n_members": len(members) if model != "rf" else 1,
                     "ensemble": ensemble, "features": features,
                     "feature_params": feature_params, **info,
                     "train_seconds": round(train_seconds, 1)}  # fmt: skip
    if model == "rf":
        card["model"]["n_members"] = len(members)  # one forest per target
    fps = fingerprint_bits([mols[i] for i in idx["train"]])
    bundle = MolBundle(card, members, fps, scaler)
    fingerprint = hashlib.sha256("\n".join(smiles).encode())
    fingerprint.update(np.ascontiguousarray(y).tobytes())
    card["training_data"] = {
        "source": tab.source,
        "fingerprint": fingerprint.hexdigest(),
        "n_input_rows": tab.n_input,
        "n_molecules": len(tab),
        "n_labelled": len(labelled),
        "n_unlabelled": n_unlabelled,
        "n_rejected": len(tab.rejected),
        "rejected": [{"row": r.row, "id": r.id, "input": r.input[:200], "reason": r.reason}
                     for r in tab.rejected[:100]],
        "n_duplicate_rows": tab.n_duplicate_rows,
        "dedupe": tab.dedupe,
        "label_counts": {t: int((~np.isnan(y[:, j])).sum()) for j, t in enumerate(targets)},
        "label_stats": {t: {"mean": float(np.nanmean(y[idx["train"], j])),
                            "std": float(np.nanstd(y[idx["train"], j])),
                            "min": float(np.nanmin(y[idx["train"], j])),
                            "max": float(np.nanmax(y[idx["train"], j]))}
                        for j, t in enumerate(targets)
                        if (~np.isnan(y[idx["train"], j])).any()},
    }  # fmt: skip
    card["split"] = {"method": split, "frac": list(frac), "seed": seed,
                     **{f"n_{k}": len(v) for k, v in idx.items()}}  # fmt: skip
    card["applicability_domain"] = {
        "method": f"nearest-neighbour Tanimoto similarity to the training set (Morgan radius "
                  f"{AD_RADIUS}, {AD_BITS} bits)",
        "threshold": ad_threshold,
    }  # fmt: skip
    card["packages"] = package_versions("rdkit", "torch", "lightgbm", "scikit-learn", "numpy")
    card["intended_use"] = (
        f"Research: ranking and prioritising molecules by predicted {', '.join(targets)} "
        "for molecules similar to the training set. Not for clinical or safety decisions "
        "without experimental confirmation."
    )
    test_mols = [mols[i] for i in idx["test"]]
    val = _validate(bundle, test_mols, [smiles[i] for i in idx["test"]], y[idx["test"]],
                    n_boot=n_boot, seed=seed)  # fmt: skip
    val_pred = bundle.predict_mols([mols[i] for i in idx["val"]])[0]
    val_metrics = _metrics(task, targets, y[idx["val"]], val_pred, n_boot=0, seed=seed)
    card["metrics"] = {"test": {k: v.to_dict() for k, v in val.metrics.items()},
                       "val": {k: v.to_dict() for k, v in val_metrics.items()}}  # fmt: skip
    card["applicability_domain"]["test_in_domain_fraction"] = float(
        np.mean(val.similarity >= ad_threshold)
    )
    card["limitations"] = _limitations(card, split)
    bundle.card = _clean(card)
    bundle.report_html = _report(bundle, tab, val).to_html()
    return bundle


def _subtable(tab: MolTable, keep: np.ndarray) -> MolTable:
    from medai.molecules.io import MolTable

    return MolTable(
        ids=[tab.ids[i] for i in keep], smiles=[tab.smiles[i] for i in keep],
        mols=[tab.mols[i] for i in keep], frame=tab.frame.iloc[keep].reset_index(drop=True),
        source=tab.source, smiles_col=tab.smiles_col, id_col=tab.id_col,
        label_cols=tab.label_cols, dedupe=tab.dedupe,
    )  # fmt: skip


def _limitations(card: dict[str, Any], split: str) -> list[str]:
    out = [
        f"Trained on {card['training_data']['n_labelled']} molecules from one source "
        f"({card['training_data']['source'] or 'a table'}); predictions for molecules unlike "
        "them (in_domain False, low nn_similarity) are extrapolations.",
        "The ensemble spread (std_) under-estimates the error out of domain; it is a ranking "
        "of uncertainty, not a calibrated interval.",
        "Molecules are standardised (largest fragment, neutralised); salts, mixtures and "
        "stereo-isomers may be predicted alike.",
    ]
    if split == "random":
        out.append("A random split over-estimates performance on new chemical series; see a "
                   "scaffold split for that.")  # fmt: skip
    if card["training_data"]["n_rejected"]:
        out.append(f"{card['training_data']['n_rejected']} input row(s) could not be parsed "
                   "and were left out (listed in the card).")  # fmt: skip
    return out


# --- validation and report ----------------------------------------------------------------------
class _Validation:
    def __init__(self, metrics: dict[str, Estimate], sections: list[tuple[str, str]],
                 similarity: np.ndarray) -> None:  # fmt: skip
        self.metrics, self.sections, self.similarity = metrics, sections, similarity


def _parity_figure(y: np.ndarray, p: np.ndarray, target: str) -> Any:
    plt = rp._plt()
    keep = ~np.isnan(y)
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.scatter(y[keep], p[keep], s=10, alpha=0.6)
    lo = float(min(y[keep].min(), p[keep].min()))
    hi = float(max(y[keep].max(), p[keep].max()))
    ax.plot([lo, hi], [lo, hi], ls="--", c="grey", lw=1)
    ax.set(xlabel=f"observed {target}", ylabel=f"predicted {target}", title="Parity plot")
    return fig


def _curves_figure(history: Sequence[dict[str, float]]) -> Any:
    plt = rp._plt()
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    ax.plot(epochs, [h["loss"] for h in history], "o-", label="training loss")
    ax.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation loss")
    ax.set(xlabel="epoch", ylabel="masked loss", title="Training curves (member 1)")
    ax.legend(fontsize=8)
    return fig


def _validate(
    bundle: MolBundle, mols: Sequence[Mol], smiles: Sequence[str], y: np.ndarray, *,
    n_boot: int, seed: int,
) -> _Validation:  # fmt: skip
    task, targets = bundle.task, bundle.targets
    pred, spread = bundle.predict_mols(mols)
    sim = bundle.similarity(mols)
    metrics = _metrics(task, targets, y, pred, n_boot=n_boot, seed=seed)
    sections: list[tuple[str, str]] = []
    figs = ""
    for j, t in enumerate(targets[:4]):
        keep = ~np.isnan(y[:, j])
        if task == "regression":
            if keep.sum() >= 2:
                figs += rp.figure_html(_parity_figure(y[:, j], pred[:, j], t), f"parity {t}")
        elif keep.sum() and 0 < y[keep, j].sum() < keep.sum():
            figs += rp.figure_html(rp.roc_figure(y[keep, j], pred[keep, j], t), f"ROC {t}")
    main = {k: v for k, v in metrics.items()}
    title = "Performance" if task == "regression" else "Discrimination"
    sections.append((title, "<p>Test split; bootstrap 95% CIs; missing labels skipped"
                     + (" (means over targets, then per target)" if len(targets) > 1 else "")
                     + ".</p>" + rp.metrics_table(main) + figs))  # fmt: skip
    if task == "classification":
        keep = ~np.isnan(y[:, 0])
        if keep.sum() and 0 < y[keep, 0].sum() < keep.sum():
            fig = rp.calibration_figure(y[keep, 0], pred[keep, 0])
            sections.append(("Calibration", rp.figure_html(fig, "calibration curve")))
    # applicability domain: error by similarity
    err = np.nanmean(np.abs(y - pred), axis=1) if not np.isnan(y).all() else np.zeros(len(y))
    inside = sim >= bundle.ad_threshold
    rows = []
    for name, m in (("in domain", inside), ("out of domain", ~inside)):
        e = err[m & np.isfinite(err)]
        rows.append({"group": name, "n": int(m.sum()),
                     "mean |error|": float(e.mean()) if len(e) else None,
                     "mean std": float(np.nanmean(spread[m])) if m.any() else None})  # fmt: skip
    sections.append(("Applicability domain", f"<p>Nearest-neighbour Tanimoto similarity to the "
                     f"training set, threshold {bundle.ad_threshold}; median on the test split "
                     f"{float(np.median(sim)) if len(sim) else float('nan'):.2f}.</p>"
                     + rp.table_html(rows)))  # fmt: skip
    sections.append(("Explanations", _worst_grid(mols, smiles, y, pred, err, targets, task)))
    return _Validation(metrics, sections, sim)


def _worst_grid(
    mols: Sequence[Mol], smiles: Sequence[str], y: np.ndarray, pred: np.ndarray,
    err: np.ndarray, targets: list[str], task: str,
) -> str:  # fmt: skip
    from medai.molecules.draw import grid_svg

    order = np.argsort(-np.where(np.isfinite(err), err, -np.inf))[:N_WORST]
    if len(order) == 0:
        return "<p>No test molecules.</p>"
    j = 0
    legends = []
    for i in order:
        j = int(np.nanargmax(np.abs(y[i] - pred[i]))) if np.isfinite(y[i]).any() else 0
        t = targets[j]
        legends.append(
            f"{t}: true {y[i, j]:.2f} pred {pred[i, j]:.2f} (err {pred[i, j] - y[i, j]:+.2f})"
        )
    svg = grid_svg([mols[i] for i in order], legends, per_row=4)
    rows = [{"smiles": smiles[i], "legend": leg} for i, leg in zip(order, legends, strict=True)]
    what = "absolute error" if task == "regression" else "|label - probability|"
    return (f"<p>The {len(order)} test molecules with the largest {what}.</p>"
            f'<div class="fig">{svg}</div>' + rp.table_html(rows))  # fmt: skip


def _report(bundle: MolBundle, tab: MolTable, val: _Validation) -> rp.Report:
    card = bundle.card
    data, split, model = card["training_data"], card["split"], card["model"]
    report = rp.Report(
        f"Validation report — molecular property model ({', '.join(bundle.targets)})",
        subtitle=f"medai molecules · {model['kind']} · trained {card['created']}",
    )
    rows = [{"item": k, "value": v} for k, v in (
        ("source", data["source"]), ("input rows", data["n_input_rows"]),
        ("molecules", data["n_molecules"]), ("labelled", data["n_labelled"]),
        ("rejected rows", data["n_rejected"]), ("duplicate rows", data["n_duplicate_rows"]),
        ("fingerprint (sha256)", data["fingerprint"][:16] + "…"),
    )]  # fmt: skip
    report.add("Data source and size", rp.table_html(rows) + rp.table_html(
        [{"target": k, "labels": v} for k, v in data["label_counts"].items()]))  # fmt: skip
    report.add("Outcome", f"<p>Task: {bundle.task}; targets {html.escape(str(bundle.targets))}. "
               f"{html.escape(card['output']['meaning'])}; "
               f"{html.escape(card['output']['uncertainty'])}.</p>")  # fmt: skip
    pred_text = ("molecular graph (atoms and directed bonds)"
                 + (" + RDKit 2D descriptors" if model.get("descriptors") else "")
                 if model["kind"] == "mpnn" else f"features {model['features']}")  # fmt: skip
    report.add("Predictors", f"<p>{html.escape(pred_text)}; molecules standardised first.</p>")
    report.add("Missing data", "<p>Rows that could not be parsed are left out; missing labels "
               "are masked in the loss and skipped in metrics.</p>"
               + rp.table_html(data["rejected"][:20]))  # fmt: skip
    report.add("Split and validation", rp.table_html([{"item": k, "value": v}
                                                      for k, v in split.items()]))  # fmt: skip
    body = f"<p>{model['kind']}, {model['n_members']} member(s), {model['train_seconds']} s.</p>"
    if model["kind"] == "mpnn" and model.get("history"):
        body += rp.figure_html(_curves_figure(model["history"]), "training curves")
    report.add("Model", body)
    params = model.get("parameters", {})
    report.add(
        "Hyperparameters", rp.table_html([{"parameter": k, "value": v} for k, v in params.items()])
    )
    for t, b in val.sections:
        report.add(t, b)
    report.add("Intended use and limitations", rp.limitations_html(card))
    return report


def evaluate(
    bundle: MolBundle,
    data: Any,
    *,
    smiles_col: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, Estimate], rp.Report]:
    """External validation on labelled molecules (a file or a MolTable with the targets).

    Returns
    -------
    metrics, report
        Metrics with bootstrap CIs (as in the card's ``test``) and an HTML report with the
        parity/ROC plots, applicability domain and worst predictions.
    """
    tab = _as_table(data, smiles_col, bundle.targets)
    missing = [t for t in bundle.targets if t not in tab.frame.columns]
    if missing:
        raise SchemaError(f"the data lacks the model's target column(s) {missing}; columns: "
                          f"{list(tab.frame.columns)}")  # fmt: skip
    y = tab.labels(bundle.targets)
    keep = np.flatnonzero(~np.isnan(y).all(1))
    if len(keep) == 0:
        raise InvalidInputError("no molecule in the data has a label for the model's targets")
    val = _validate(bundle, [tab.mols[i] for i in keep], [tab.smiles[i] for i in keep], y[keep],
                    n_boot=n_boot, seed=seed)  # fmt: skip
    report = rp.Report(
        f"External validation — molecular property model ({', '.join(bundle.targets)})",
        subtitle=f"data: {tab.source or 'table'}, {len(keep)} labelled molecules, "
        f"{len(tab.rejected)} rejected rows",
    )
    for t, b in val.sections:
        report.add(t, b)
    return val.metrics, report
