"""Training and validating image classifiers: split, augment, early stopping, report."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medai.core import report as rp
from medai.core.bundle import base_card, package_versions
from medai.core.errors import InvalidInputError, require
from medai.core.metrics import (
    Estimate,
    accuracy,
    auroc,
    binary_metrics,
    bootstrap,
    macro_auroc,
    multiclass_metrics,
    multilabel_metrics,
)
from medai.core.training import EarlyStopping
from medai.imaging.model import ImageBundle

if TYPE_CHECKING:
    from medai.imaging.data import ImageSet

__all__ = ["evaluate", "train"]

Progress = Callable[[str, int, int], None]
N_CAM = 12


def _as_imageset(
    data: Any, dataset: str | None, size: int | None, channels: int | None, window: Any
) -> ImageSet:
    from medai.imaging.data import ImageSet, load_images

    if isinstance(data, ImageSet):
        return data
    return load_images(data, dataset=dataset, size=size, channels=channels, window=window)


def _split(
    ims: ImageSet, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Indices of train/val/test: the source's own split, else stratified and by patient."""
    if ims.split is not None:
        out = {s: np.flatnonzero(ims.split == s) for s in ("train", "val", "test")}
        if all(len(v) for v in out.values()):
            return out
    from sklearn.model_selection import StratifiedGroupKFold

    n = len(ims.labels)
    strata = ims.labels if ims.labels.ndim == 1 else ims.labels.argmax(1)
    groups = ims.groups if ims.groups is not None else np.arange(n).astype(str)

    def cut(idx: np.ndarray, fraction: float, salt: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(2, round(1 / fraction))
        sgk = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed + salt)
        rest, held = next(sgk.split(idx, strata[idx], groups[idx]))
        return idx[rest], idx[held]

    rest, test = cut(np.arange(n), test_fraction, 0)
    train, val = cut(rest, val_fraction / (1 - test_fraction), 1)
    return {"train": train, "val": val, "test": test}


def _val_metric(task: str, y: np.ndarray, probs: np.ndarray) -> float:
    if task == "binary":
        return auroc(y, probs[:, 1])
    return macro_auroc(y, probs)


def train(
    data: Any = None,
    *,
    dataset: str | None = None,
    network: str = "auto",
    size: int | None = None,
    channels: int | None = None,
    window: tuple[float, float] | None = None,
    modality: str = "xray",
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    patience: int = 6,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    init_weights: str | Path | None = None,
    max_minutes: float | None = None,
    synthetic: bool = False,
    seed: int = 0,
    n_boot: int = 1000,
    num_threads: int | None = None,
    progress: Progress | None = None,
) -> ImageBundle:
    """Train, validate and document an image classifier.

    Parameters
    ----------
    data
        An :class:`~medai.imaging.data.ImageSet`, a folder with one sub-folder per class, a
        CSV manifest (``path,label[,patient_id]``) or a MedMNIST-style ``.npz``.
    dataset
        Or a MedMNIST name (``pneumoniamnist``, ...), downloaded with checksum.
    network
        ``auto`` (compact CNN up to 64 px, ResNet-18 above) or one of
        :data:`medai.imaging.nets.NETWORKS`.
    modality
        ``xray``/``ct``/``mri``/``ultrasound`` (no flips), ``dermatoscopy``/``pathology``
        (flips and larger rotations) or ``none`` (no augmentation).
    epochs, batch_size, lr, patience
        Training budget; early stopping on validation AUROC after ``patience`` epochs
        without improvement; cosine learning-rate schedule.
    init_weights
        Optional local weights (safetensors or torch state_dict) for a pretrained start.
    max_minutes
        Stop training after this wall time, checked after each epoch (so the budget can be
        overrun by up to one epoch); the best epoch so far is kept.
    synthetic
        Mark the training data as synthetic in the card.
    n_boot, seed, num_threads, progress
        Bootstrap resamples; seed; torch threads (default: all cores); callback
        ``(step, done, total)``.
    """
    require("torch", "imaging")
    import torch

    from medai.imaging.augment import Augment
    from medai.imaging.nets import (
        NETWORKS,
        build_network,
        cam_layer,
        default_network,
        load_initial_weights,
    )

    if epochs < 1 or batch_size < 2 or lr <= 0 or patience < 1:
        raise InvalidInputError(
            "epochs >= 1, batch_size >= 2, lr > 0 and patience >= 1 are required"
        )
    aug = Augment.for_modality(modality)
    ims = _as_imageset(data, dataset, size, channels, window)
    n, c, h, w = ims.images.shape
    if h != w:
        raise InvalidInputError(f"images must be square after loading; got {h}x{w}")
    name = default_network(h) if network == "auto" else network
    if name not in NETWORKS:
        raise InvalidInputError(f"network {network!r} is unknown; use auto or one of {NETWORKS}")
    k = len(ims.classes)
    idx = _split(ims, val_fraction, test_fraction, seed)
    for part, ids in idx.items():
        if len(ids) < 2:
            raise InvalidInputError(f"the {part} split has {len(ids)} images; need more data")

    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(num_threads or os.cpu_count() or 1)
    gen = torch.Generator().manual_seed(seed)
    net = build_network(name, c, k, h)
    skipped_weights: list[str] = []
    if init_weights is not None:
        skipped_weights = load_initial_weights(net, init_weights)
    x_train = ims.images[idx["train"]]
    y_train = ims.labels[idx["train"]]
    scaled = x_train.reshape(len(x_train), c, -1).astype(np.float32) / 255.0
    mean = scaled.mean(axis=(0, 2)).tolist()
    std = np.maximum(scaled.std(axis=(0, 2)), 1e-3).tolist()
    del scaled
    if ims.task == "multilabel":
        pos = y_train.mean(0).clip(1e-3, 1 - 1e-3)
        loss_fn: Any = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((1 - pos) / pos).float())
    else:
        counts = np.bincount(y_train, minlength=k).astype(float)
        weights = np.where(counts > 0, len(y_train) / (k * np.maximum(counts, 1)), 0.0)
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights).float())
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    norm_mean = torch.tensor(mean).view(1, -1, 1, 1)
    norm_std = torch.tensor(std).view(1, -1, 1, 1)

    card: dict[str, Any] = base_card("imaging", ims.task, seed=seed)
    card["input"] = {"size": h, "channels": c, "window": list(window) if window else None,
                     "mean": mean, "std": std, "scaling": "pixel / 255, then (x - mean) / std"}  # fmt: skip
    card["output"] = {"classes": list(ims.classes),
                      "meaning": "class probabilities (softmax)" if ims.task != "multilabel"
                      else "per-label probabilities (sigmoid)"}  # fmt: skip
    card["model"] = {"network": name, "cam_layer": cam_layer(net, c, h)}
    bundle = ImageBundle(card, net)

    history: list[dict[str, float]] = []
    stopper = EarlyStopping(net, best=-1.0, patience=patience,
                            max_seconds=None if max_minutes is None else max_minutes * 60)  # fmt: skip
    y_val = ims.labels[idx["val"]]
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(x_train), generator=gen).numpy()
        total, seen = 0.0, 0
        for i in range(0, len(perm), batch_size):
            b = perm[i : i + batch_size]
            if len(b) < 2:
                continue
            xb = torch.from_numpy(x_train[b]).float() / 255.0
            xb = (aug(xb, gen) - norm_mean) / norm_std
            yb = torch.from_numpy(y_train[b])
            yb = yb.float() if ims.task == "multilabel" else yb.long()
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
            seen += len(b)
        sched.step()
        net.eval()
        val_auc = _val_metric(ims.task, y_val, bundle.predict_arrays(ims.images[idx["val"]]))
        history.append({"epoch": epoch, "loss": total / max(seen, 1), "val_auroc": val_auc})
        if progress:
            progress(f"epoch {epoch}/{epochs} loss {total / max(seen, 1):.3f} val AUROC {val_auc:.3f}",
                     epoch, epochs)  # fmt: skip
        if stopper.step(val_auc, epoch):
            break
    stopper.restore()
    train_seconds = stopper.elapsed()
    best_auc, best_epoch = stopper.best, stopper.epoch

    card["model"].update({
        "parameters": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": 1e-4,
                       "patience": patience, "schedule": "cosine", "optimizer": "AdamW",
                       "loss": "BCE (pos_weight)" if ims.task == "multilabel" else "cross-entropy (class weights)",
                       "augmentation": {"modality": modality, **aug.to_dict()},
                       "max_minutes": max_minutes},
        "n_parameters": int(sum(p.numel() for p in net.parameters())),
        "init_weights": Path(init_weights).name if init_weights else None,
        "init_weights_skipped": skipped_weights,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "train_seconds": round(train_seconds, 1),
        "history": history,
    })  # fmt: skip
    fingerprint = hashlib.sha256(ims.images.tobytes())
    fingerprint.update(np.ascontiguousarray(ims.labels).tobytes())
    card["training_data"] = {
        "source": ims.source,
        "synthetic": synthetic,
        "fingerprint": fingerprint.hexdigest(),
        "n_images": int(n),
        "class_counts": ims.class_counts(),
        "skipped_files": len(ims.skipped),
    }
    card["split"] = {
        "method": "given by the source" if ims.split is not None
        else ("by patient, stratified" if ims.groups is not None else "stratified random"),
        **{f"n_{k2}": len(v) for k2, v in idx.items()},
        "seed": seed,
    }  # fmt: skip
    card["packages"] = package_versions("torch", "monai", "numpy", "pydicom", "nibabel", "pillow")
    card["intended_use"] = (
        "Research and decision support: classifying images like the training images "
        f"({ims.source}) into {ims.classes}. Not a medical device; a clinician must review."
    )
    card["limitations"] = _limitations(ims, synthetic)
    val = _validate(bundle, ims.subset(idx["test"]), n_boot=n_boot, seed=seed)
    card["metrics"] = {
        "test": {k2: v.to_dict() for k2, v in val.metrics.items()},
        "val": {"auroc": {"estimate": best_auc, "ci95": [None, None], "n": len(idx["val"])}},
    }
    card["per_class"] = val.per_class
    bundle.report_html = _report(card, ims, val, history).to_html()
    return bundle


class _Validation:
    def __init__(self, metrics: dict[str, Estimate], per_class: list[dict[str, Any]],
                 sections: list[tuple[str, str]]) -> None:  # fmt: skip
        self.metrics, self.per_class, self.sections = metrics, per_class, sections


def _validate(bundle: ImageBundle, test: ImageSet, *, n_boot: int, seed: int) -> _Validation:
    """Metrics with CIs, per-class table, and report sections (plots, Grad-CAM grid)."""
    probs = bundle.predict_arrays(test.images)
    y = test.labels
    classes = bundle.classes
    sections: list[tuple[str, str]] = []
    if bundle.task == "binary":
        metrics = binary_metrics(y, probs[:, 1], n_boot=n_boot, seed=seed)
        metrics["accuracy"] = bootstrap(lambda t, p: accuracy(t, (p >= 0.5).astype(int)),
                                        [y, probs[:, 1]], n_boot=n_boot, seed=seed, stratify=y)  # fmt: skip
        figs = rp.figure_html(rp.roc_figure(y, probs[:, 1]), "ROC curve")
    elif bundle.task == "multiclass":
        metrics = multiclass_metrics(y, probs, n_boot=n_boot, seed=seed)
        figs = ""
    else:
        metrics = multilabel_metrics(y, probs, n_boot=n_boot, seed=seed)
        figs = ""
    if bundle.task != "multilabel":
        figs += rp.figure_html(rp.confusion_figure(y, probs.argmax(1), classes), "confusion matrix")
    main = [m for m in ("auroc", "accuracy", "f1", "auprc") if m in metrics]
    sections.append(("Discrimination",
                     "<p>Test split, bootstrap 95% CIs (macro averages for more than two classes).</p>"
                     + rp.metrics_table({m: metrics[m] for m in main}) + figs))  # fmt: skip
    if bundle.task == "binary":
        cal = ("brier", "calibration_slope", "calibration_intercept", "ece")
        sections.append(("Calibration", rp.metrics_table({m: metrics[m] for m in cal})
                         + rp.figure_html(rp.calibration_figure(y, probs[:, 1]), "calibration curve")))  # fmt: skip
        thr = ("sensitivity", "specificity", "ppv", "npv")
        sections.append(("Clinical usefulness", f"<p>At probability 0.5 for {classes[1]!r}:</p>"
                         + rp.metrics_table({m: metrics[m] for m in thr})
                         + rp.figure_html(rp.decision_curve_figure(y, probs[:, 1]), "decision curve")))  # fmt: skip
    else:
        top = probs.max(1)
        hit = (probs.argmax(1) == y).astype(int) if bundle.task == "multiclass" else None
        body = ("<p>Calibration of the top-class confidence:</p>"
                + rp.figure_html(rp.calibration_figure(hit, top), "calibration curve")
                if hit is not None and 0 < hit.sum() < len(hit) else
                "<p>Per-label calibration is not plotted for multi-label tasks.</p>")  # fmt: skip
        sections.append(("Calibration", body))
        sections.append(("Clinical usefulness", "<p>See the per-class table under Subgroups.</p>"))
    sections.append(("Explanations", _cam_grid(bundle, test, probs)))
    per_class = _per_class(bundle.task, y, probs, classes)
    sections.append(("Subgroups", "<p>Per-class metrics on the test split (one-vs-rest).</p>"
                     + rp.table_html(per_class)))  # fmt: skip
    return _Validation(metrics, per_class, sections)


def _per_class(
    task: str, y: np.ndarray, probs: np.ndarray, classes: list[str]
) -> list[dict[str, Any]]:
    onehot = y if task == "multilabel" else np.eye(len(classes))[y]
    pred = (
        (probs >= 0.5)
        if task == "multilabel"
        else np.eye(len(classes))[probs.argmax(1)].astype(bool)
    )
    rows = []
    for j, cls in enumerate(classes):
        t = onehot[:, j].astype(bool)
        rows.append({
            "class": cls, "n": int(t.sum()),
            "auroc": auroc(t.astype(int), probs[:, j]) if 0 < t.sum() < len(t) else None,
            "sensitivity": float((pred[:, j] & t).sum() / t.sum()) if t.sum() else None,
            "ppv": float((pred[:, j] & t).sum() / pred[:, j].sum()) if pred[:, j].sum() else None,
        })  # fmt: skip
    return rows


def _cam_grid(bundle: ImageBundle, test: ImageSet, probs: np.ndarray) -> str:
    """Grad-CAM overlays of test images, wrong predictions first (most confident first)."""
    from medai.imaging.explain import overlay_rgb

    plt = rp._plt()
    if bundle.task == "multilabel":
        wrong = ((probs >= 0.5) != test.labels.astype(bool)).any(1)
        pred_idx = probs.argmax(1)
    else:
        pred_idx = probs.argmax(1)
        wrong = pred_idx != test.labels
    conf = probs.max(1)
    order = np.lexsort((-conf, ~wrong))[:N_CAM]
    maps = bundle.explain(test.images[order])
    cols = 4
    rows = int(np.ceil(len(order) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i, heat in zip(axes.ravel(), order, maps, strict=False):
        ax.imshow(overlay_rgb(test.images[i], heat))
        truth = ("|".join(c for c, v in zip(bundle.classes, test.labels[i], strict=True) if v)
                 if bundle.task == "multilabel" else bundle.classes[int(test.labels[i])])  # fmt: skip
        colour = "#c53030" if wrong[i] else "#276749"
        ax.set_title(f"true {truth}\npred {bundle.classes[pred_idx[i]]} {conf[i]:.2f}",
                     fontsize=7, color=colour)  # fmt: skip
    fig.tight_layout()
    n_wrong = int(wrong.sum())
    return (f"<p>Grad-CAM (layer <code>{rp.html.escape(bundle.layer)}</code>) on test images: "
            f"{min(n_wrong, N_CAM)} wrong predictions first (red), then correct ones (green). "
            f"{n_wrong} of {len(wrong)} test images are misclassified.</p>"
            + rp.figure_html(fig, "Grad-CAM grid", width=640))  # fmt: skip


def _limitations(ims: ImageSet, synthetic: bool) -> list[str]:
    out = [
        f"Trained and tested on one source ({ims.source}); validate on images from the intended "
        "site, scanner and population before use (medai image evaluate).",
        "Images are resized to a fixed square size; findings smaller than a few pixels at that "
        "size cannot be seen by the model.",
    ]
    if synthetic:
        out.insert(0, "SYNTHETIC DATA: trained on generated phantom images; a demonstration, "
                      "not a clinical model.")  # fmt: skip
    if ims.skipped:
        out.append(f"{len(ims.skipped)} file(s) could not be read and were left out (see report).")
    return out


def _report(
    card: dict[str, Any], ims: ImageSet, val: _Validation, history: list[dict[str, float]]
) -> rp.Report:
    data, split, model = card["training_data"], card["split"], card["model"]
    title = f"Validation report — image classifier ({', '.join(ims.classes)})"
    report = rp.Report(
        title, subtitle=f"medai imaging · {model['network']} · trained {card['created']}"
    )
    if data["synthetic"]:
        report.warnings.append("Trained on SYNTHETIC phantom images: a demonstration only.")
    rows = [{"item": k2, "value": v} for k2, v in (
        ("source", data["source"]), ("images", data["n_images"]),
        ("synthetic", "yes" if data["synthetic"] else "no"),
        ("fingerprint (sha256)", data["fingerprint"][:16] + "…"),
    )]  # fmt: skip
    counts = [{"class": k2, "images": v} for k2, v in data["class_counts"].items()]
    skipped = [{"file": Path(f).name, "reason": r} for f, r in ims.skipped]
    inp = card["input"]
    report.add("Data source and size", rp.table_html(rows) + rp.table_html(counts))
    report.add(
        "Outcome",
        f"<p>Task: {ims.task}; classes {ims.classes}. Output: {card['output']['meaning']}.</p>",
    )
    report.add("Predictors", f"<p>Pixels: {inp['channels']} channel(s) at {inp['size']}x{inp['size']}; "
               f"window {inp['window'] or 'none / from the file'}; {inp['scaling']}.</p>")  # fmt: skip
    report.add("Missing data", "<p>Files that could not be read are left out and listed here.</p>"
               + rp.table_html(skipped))  # fmt: skip
    report.add(
        "Split and validation", rp.table_html([{"item": k2, "value": v} for k2, v in split.items()])
    )
    report.add("Model", f"<p>{model['network']} ({model['n_parameters']:,} parameters), initial weights: "
               f"{model['init_weights'] or 'random'}; best epoch {model['best_epoch']} of "
               f"{model['epochs_run']} run, {model['train_seconds']} s.</p>"
               + rp.figure_html(rp.curves_figure(history), "training curves"))  # fmt: skip
    params = {k2: v for k2, v in model["parameters"].items() if k2 != "augmentation"}
    report.add("Hyperparameters", rp.table_html([{"parameter": k2, "value": v} for k2, v in params.items()])
               + "<p>Augmentation:</p>" + rp.table_html(
                   [{"parameter": k2, "value": v} for k2, v in model["parameters"]["augmentation"].items()]))  # fmt: skip
    for t, body in val.sections:
        report.add(t, body)
    report.add("Intended use and limitations", rp.limitations_html(card))
    return report


def evaluate(
    bundle: ImageBundle,
    data: Any = None,
    *,
    dataset: str | None = None,
    split: str | None = "test",
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, Estimate], rp.Report]:
    """External validation on labelled images (folder, manifest, npz or MedMNIST name).

    For sources with predefined splits (npz), only ``split`` is used (``None``: all images).
    """
    from medai.imaging.data import load_images

    ims = load_images(data, dataset=dataset, size=bundle.size, channels=bundle.channels,
                      window=bundle.window)  # fmt: skip
    if ims.classes not in (bundle.classes, [str(i) for i in range(len(bundle.classes))]):
        raise InvalidInputError(
            f"the data's classes {ims.classes} differ from the model's {bundle.classes}"
        )
    if split is not None and ims.split is not None:
        ims = ims.subset(np.flatnonzero(ims.split == split))
    val = _validate(bundle, ims, n_boot=n_boot, seed=seed)
    report = rp.Report(f"External validation — image classifier ({', '.join(bundle.classes)})",
                       subtitle=f"data: {ims.source}, {len(ims.labels)} images")  # fmt: skip
    for t, body in val.sections:
        report.add(t, body)
    return val.metrics, report
