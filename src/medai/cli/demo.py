"""``medai demo``: the main job on bundled data — one model per pillar, bundles and reports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from medai.cli.common import err_console, out_console, progress_bar

__all__ = ["demo"]


def demo(
    out: Path = typer.Option(Path("medai-demo"), "--out", "-o", help="Folder for bundles."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Train the demo models on bundled data, write bundles and reports, print a summary."""
    from medai.core.datasets import load
    from medai.risk import train

    jobs = [
        (
            "breast_cancer",
            "binary risk: malignant tumour (sklearn breast cancer Wisconsin)",
            {"target": "malignant"},
            "auroc",
        ),
        (
            "whas500",
            "survival: death after myocardial infarction (WHAS500)",
            {
                "time": "time",
                "event": "event",
                "horizons": [365.0, 730.0, 1460.0],
                "subgroups": ["gender"],
            },
            "c_index",
        ),
    ]
    table = Table(title="medai demo", title_justify="left")
    for col in ("pillar", "task", "model", "metric (test)", "estimate", "95% CI", "bundle"):
        table.add_column(col)
    for name, task, kwargs, metric in jobs:
        with progress_bar(name) as progress:
            bundle = train(load(name), seed=seed, progress=progress, **kwargs)  # type: ignore[arg-type]
        path = bundle.save(out / name)
        m = bundle.card["metrics"]["test"][metric]
        table.add_row(
            "risk",
            task,
            bundle.card["model"]["name"],
            metric,
            f"{m['estimate']:.3f}",
            f"{m['ci95'][0]:.3f} – {m['ci95'][1]:.3f}",
            str(path),
        )
    from medai.imaging.phantom import phantom
    from medai.imaging.train import train as train_image

    with progress_bar("phantom images") as progress:
        image_bundle = train_image(
            phantom(600, 32, seed=seed),
            epochs=12,
            patience=4,
            synthetic=True,
            seed=seed,
            progress=progress,
        )
    path = image_bundle.save(out / "phantom_images")
    m = image_bundle.card["metrics"]["test"]["auroc"]
    table.add_row(
        "imaging",
        "SYNTHETIC phantom: nodule vs no nodule (CNN)",
        image_bundle.card["model"]["network"],
        "auroc",
        f"{m['estimate']:.3f}",
        f"{m['ci95'][0]:.3f} – {m['ci95'][1]:.3f}",
        str(path),
    )
    out_console().print(table)
    err_console().print(f"reports: {out}/*/report.html")
