"""``medai image``: train, predict, explain, evaluate and export image classifiers."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from medai.cli.common import (
    err_console,
    print_metrics,
    progress_bar,
    save_png,
    write_predictions,
)
from medai.core.errors import InvalidInputError

__all__ = ["app"]

app = typer.Typer(
    help="Medical image classifiers: PNG/JPEG/DICOM/NIfTI folders, manifests, MedMNIST.",
    no_args_is_help=True,
)

BUNDLE = typer.Argument(..., help="Bundle folder written by `medai image train --out`.")
WINDOW = typer.Option(
    None, "--window", help="CT window: lung, mediastinum, bone, brain or WIDTH,LEVEL."
)


def _window(spec: str | None) -> tuple[float, float] | None:
    from medai.imaging.io import parse_window

    return parse_window(spec)


@app.command("train")
def train_command(
    source: Path | None = typer.Argument(
        None, help="Class folders, a CSV manifest (path,label[,patient_id]) or a .npz."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle folder to write."),
    dataset: str | None = typer.Option(None, "--dataset", help="MedMNIST name instead of SOURCE."),
    network: str = typer.Option(
        "auto", "--network", help="auto, cnn, resnet18, resnet50, densenet121, efficientnet-b0."
    ),
    size: int | None = typer.Option(
        None, "--size", help="Square size to resize to (default: 64 for files, native for .npz)."
    ),
    channels: int | None = typer.Option(
        None, "--channels", help="Force 1 (grey) or 3 (RGB) channels."
    ),
    window: str | None = WINDOW,
    modality: str = typer.Option(
        "xray", "--modality", help="xray, ct, mri, ultrasound, dermatoscopy, pathology or none."
    ),
    epochs: int = typer.Option(30, "--epochs"),
    batch_size: int = typer.Option(64, "--batch-size"),
    lr: float = typer.Option(1e-3, "--lr"),
    patience: int = typer.Option(6, "--patience", help="Early-stopping patience (epochs)."),
    init_weights: Path | None = typer.Option(
        None, "--init-weights", help="Local pretrained weights (safetensors / state_dict)."
    ),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Training time budget."),
    n_boot: int = typer.Option(1000, "--n-boot"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train an image classifier and write a bundle with its card and report."""
    from medai.imaging.data import load_images
    from medai.imaging.train import train

    if (source is None) == (dataset is None):
        raise InvalidInputError("give either SOURCE (folder, .csv or .npz) or --dataset NAME")
    with progress_bar("loading images") as progress:
        ims = load_images(source, dataset=dataset, size=size, channels=channels,
                          window=_window(window), progress=progress)  # fmt: skip
    for f, reason in ims.skipped:
        err_console().print(f"[yellow]skipped[/] {f}: {reason}")
    with progress_bar("image train") as progress:
        bundle = train(ims, network=network, window=_window(window), modality=modality,
                       epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                       init_weights=init_weights, max_minutes=max_minutes, n_boot=n_boot,
                       seed=seed, progress=progress)  # fmt: skip
    bundle.save(out)
    print_metrics(
        bundle.card["metrics"]["test"], f"test metrics — {bundle.card['model']['network']}"
    )
    err_console().print(f"bundle written to {out} (report: {out / 'report.html'})")


@app.command("predict")
def predict_command(
    bundle: Path = BUNDLE,
    paths: list[Path] = typer.Argument(..., help="Image files or folders (DICOM included)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV or JSON to write."),
    window: str | None = WINDOW,
) -> None:
    """Class probabilities for each image."""
    from medai.imaging.model import ImageBundle

    write_predictions(ImageBundle.load(bundle).predict(paths, window=_window(window)), out)


@app.command("explain")
def explain_command(
    bundle: Path = BUNDLE,
    image: Path = typer.Argument(..., help="One image file (DICOM, NIfTI, PNG, ...)."),
    out: Path = typer.Option(..., "--out", "-o", help="PNG to write (image + heatmap overlay)."),
    method: str = typer.Option("gradcam", "--method", help="gradcam or occlusion."),
    layer: str | None = typer.Option(
        None, "--layer", help="Grad-CAM layer (default: chosen automatically)."
    ),
    class_name: str | None = typer.Option(
        None, "--class", help="Class to explain (default: predicted)."
    ),
    window: str | None = WINDOW,
) -> None:
    """Grad-CAM or occlusion-sensitivity heatmap over the image."""
    from medai.imaging.explain import overlay_figure
    from medai.imaging.model import ImageBundle, load_inputs

    if out.suffix.lower() != ".png":
        raise InvalidInputError(f"--out {str(out)!r} must end in .png")  # before any work
    b = ImageBundle.load(bundle)
    x = load_inputs([image], b.size, b.channels, _window(window) or b.window)
    k = None
    if class_name is not None:
        if class_name not in b.classes:
            raise InvalidInputError(f"--class {class_name!r} is not one of {b.classes}")
        k = b.classes.index(class_name)
    heat = b.explain(x, method=method, class_index=k, layer=layer)[0]
    probs = b.predict_arrays(x)[0]
    k = int(probs.argmax()) if k is None else k
    fig = overlay_figure(x[0], heat, f"{method}: {b.classes[k]} ({probs[k]:.2f})")
    save_png(fig, out, dpi=120)


@app.command("evaluate")
def evaluate_command(
    bundle: Path = BUNDLE,
    source: Path | None = typer.Argument(None, help="Labelled images: class folders, CSV or .npz."),
    dataset: str | None = typer.Option(None, "--dataset", help="MedMNIST name instead of SOURCE."),
    split: str = typer.Option(
        "test", "--split", help="For .npz/MedMNIST: train, val, test or all."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="HTML report to write."),
    n_boot: int = typer.Option(1000, "--n-boot"),
) -> None:
    """External validation: metrics with 95% CIs (JSON on stdout) and an HTML report."""
    from medai.imaging.model import ImageBundle
    from medai.imaging.train import evaluate

    if (source is None) == (dataset is None):
        raise InvalidInputError("give either SOURCE or --dataset NAME")
    metrics, report = evaluate(ImageBundle.load(bundle), source, dataset=dataset,
                               split=None if split == "all" else split, n_boot=n_boot)  # fmt: skip
    as_dict = {k: v.to_dict() for k, v in metrics.items()}
    print_metrics(as_dict, "external validation")
    if out is not None:
        report.save(out)
        err_console().print(f"report written to {out}")
    typer.echo(json.dumps(as_dict, indent=2))


@app.command("export")
def export_command(
    bundle: Path = BUNDLE,
    fmt: str = typer.Option("onnx", "--format", help="onnx or torchscript."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (.onnx or .pt)."),
) -> None:
    """Export the network for deployment; the ONNX export is checked against torch."""
    from medai.imaging.export import export
    from medai.imaging.model import ImageBundle

    diff = export(ImageBundle.load(bundle), fmt, out)
    err_console().print(f"{fmt} model written to {out} (max |difference| vs torch: {diff:.2e})")
