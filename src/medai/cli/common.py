"""Helpers shared by the CLI modules: consoles, progress bars, option parsing."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from medai.risk.schema import _as_number, parse_assignments

__all__ = ["err_console", "out_console", "parse_missing", "progress_bar"]


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


def parse_missing(items: Sequence[str]) -> dict[str, list[Any]]:
    """Parse ``--missing`` options.

    ``["Glucose,BMI=0", "Insulin=0,-1", "*=999"]`` ->
    ``{"Glucose": [0], "BMI": [0], "Insulin": [0, -1], "*": [999]}``.
    """
    out: dict[str, list[Any]] = {}
    for cols, values in parse_assignments(items, "--missing").items():
        codes = [_as_number(v.strip()) for v in values.split(",") if v.strip()]
        for col in cols.split(","):
            if col.strip():
                out[col.strip()] = codes
    return out
