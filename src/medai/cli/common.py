"""Helpers shared by the CLI modules: consoles, progress bars, option parsing."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from medai.core.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "err_console",
    "out_console",
    "print_metrics",
    "progress_bar",
    "save_png",
    "write_predictions",
]


def err_console() -> Console:
    """Console on stderr for progress, summaries and errors."""
    return Console(stderr=True, highlight=False)


def out_console() -> Console:
    """Console on stdout for results (wide when not a terminal, so pipes are not wrapped)."""
    console = Console(soft_wrap=False)
    return console if console.is_terminal else Console(width=200, soft_wrap=False)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a ``progress(step, done, total)`` callback that draws a Rich bar on stderr."""
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console(), transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(step: str, done: int, total: int) -> None:
            bar.update(task, description=f"{label}: {step}", completed=done, total=total)

        yield update


def print_metrics(metrics: dict[str, dict[str, Any]], title: str) -> None:
    """Table of card-style metrics (``{"estimate", "ci95", "n"}``) on stderr."""
    table = Table(title=title, title_justify="left")
    for col in ("metric", "estimate", "95% CI", "n"):
        table.add_column(col)

    def fmt(v: Any) -> str:
        return "–" if v is None else f"{v:.3f}"

    for name, m in metrics.items():
        ci = m.get("ci95") or [None, None]
        table.add_row(name, fmt(m["estimate"]), f"{fmt(ci[0])} – {fmt(ci[1])}", str(m["n"]))
    err_console().print(table)


def save_png(fig: Figure, path: Path, *, dpi: int = 110) -> None:
    """Save a matplotlib figure as PNG atomically; refuse another suffix."""
    if path.suffix.lower() != ".png":
        raise InvalidInputError(f"{str(path)!r} must end in .png")
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    tmp.replace(path)
    err_console().print(f"chart written to {path}")


def write_predictions(preds: pd.DataFrame, out: Path | None) -> None:
    """Predictions as CSV on stdout, or to ``out`` (CSV/JSON/Parquet, atomically)."""
    from medai.core.tables import write_table

    if out is None:
        preds.to_csv(sys.stdout, index=False)
    else:
        write_table(preds, out)
        err_console().print(f"{len(preds)} predictions written to {out}")
