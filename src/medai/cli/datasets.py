"""``medai datasets``: list, fetch and show the bundled and downloadable datasets.

Results go to stdout (the table, the cached path, the first rows); progress bars and notes go
to stderr. Errors print ``error: <message>`` on stderr and exit with the error's exit code
(2 for a :class:`~medai.core.errors.DatasetError`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from medai.core import datasets as ds
from medai.core.errors import MedaiError

__all__ = ["app"]

app = typer.Typer(
    help="Bundled and downloadable datasets: list them, fetch them into the cache, show them.",
    no_args_is_help=True,
)

_WIDE = 200


def _stdout() -> Console:
    console = Console(soft_wrap=False)
    return console if console.is_terminal else Console(width=_WIDE, soft_wrap=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(exc: MedaiError) -> NoReturn:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(exc.exit_code)


def _checksum_text(info: ds.DatasetInfo) -> str:
    if info.kind == "bundled":
        return "- (bundled)"
    pinned = info.checksum
    if pinned is not None:
        return f"{pinned[0]}:{pinned[1][:16]}"
    recorded = ds.recorded_sha256(info)
    if recorded is not None:
        return f"sha256:{recorded[:16]} (recorded)"
    return "none (trust on first use)"


def _target_text(info: ds.DatasetInfo) -> str:
    if info.task == "survival":
        return f"{info.time}, {info.event}"
    if info.modality == "image":
        return f"{len(info.classes or ())} classes ({info.image_size} px)"
    return str(info.target)


@contextmanager
def _progress_bar(name: str) -> Iterator[Callable[[int, int | None], None]]:
    """Yield a ``progress(done, total)`` callback drawing a Rich bar on stderr."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_stderr(), transient=False) as bar:
        task = bar.add_task(name, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
) -> None:
    """List every dataset: kind, task, rows, target, source, checksum and whether it is cached."""
    try:
        infos = ds.list_datasets()
        rows = [
            {
                "name": info.name,
                "title": info.title,
                "kind": info.kind,
                "task": info.task,
                "rows": info.n_rows,
                "target": list(info.label_columns),
                "source": info.source,
                "url": info.url,
                "checksum": _checksum_text(info),
                "cached": ds.is_cached(info),
            }
            for info in infos
        ]
    except MedaiError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="medai datasets", title_justify="left")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("kind", no_wrap=True)
    table.add_column("task", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("target", no_wrap=True)
    table.add_column("source / url", overflow="fold", max_width=100)
    table.add_column("checksum", no_wrap=True)
    table.add_column("cached", no_wrap=True)
    for info, row in zip(infos, rows, strict=True):
        table.add_row(
            info.name,
            info.kind,
            info.task,
            "?" if info.n_rows is None else str(info.n_rows),
            _target_text(info),
            info.url or info.source,
            str(row["checksum"]),
            "yes" if row["cached"] else "no",
        )
    _stdout().print(table)


@app.command("fetch")
def fetch_command(
    name: str = typer.Argument(..., help="Dataset name, as `medai datasets list` shows it."),
    force: bool = typer.Option(False, "--force", help="Download again even if cached."),
    url: str | None = typer.Option(None, "--url", help="Download from this URL instead."),
) -> None:
    """Download a dataset into the cache, verify its checksum and print the cached path."""
    err = _stderr()
    try:
        info = ds.get_info(name)
        if info.kind == "bundled":
            err.print(f"{info.name} is bundled with a Python package; nothing to download.")
            return
        with _progress_bar(info.name) as progress:
            path = ds.fetch(info, force=force, progress=progress, url=url)
        if info.checksum is not None:
            algo, digest = info.checksum
            err.print(f"{info.name}: {algo} {digest} verified.")
        else:
            recorded = ds.recorded_sha256(info)
            err.print(
                f"{info.name}: no checksum is pinned for this dataset; sha256 {recorded} was "
                "recorded on first use and later uses must match it."
            )
    except MedaiError as exc:
        _fail(exc)
    typer.echo(str(path))


@app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Dataset name, as `medai datasets list` shows it."),
    rows: int = typer.Option(5, "--rows", "-n", min=0, help="How many first rows to print."),
) -> None:
    """Print a dataset's shape, label columns and first rows (downloading it if needed)."""
    try:
        info = ds.get_info(name)
        if info.kind == "download" and not ds.is_cached(info):
            with _progress_bar(info.name) as progress:
                frame = ds.load(info, progress=progress)
        else:
            frame = ds.load(info)
    except MedaiError as exc:
        _fail(exc)
    n_rows, n_cols = frame.shape
    typer.echo(f"{info.name}: {info.title}")
    typer.echo(f"shape: {n_rows} rows x {n_cols} columns; task: {info.task}")
    typer.echo(f"label column(s): {', '.join(info.label_columns)}")
    typer.echo(frame.head(rows).to_string(max_cols=24, line_width=_WIDE))
