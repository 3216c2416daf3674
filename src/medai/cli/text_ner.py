"""``medai text train-ner`` and ``medai text ner``: Chinese clinical NER (BiLSTM-CRF).

:func:`register` adds both commands to the ``medai text`` Typer app.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

import typer
from rich.table import Table

from medai.cli.common import err_console, print_metrics, progress_bar
from medai.core.errors import InvalidInputError

__all__ = ["ner_command", "register", "train_ner_command"]

NER_BUNDLE = typer.Argument(..., help="Bundle folder written by `medai text train-ner --out`.")


def train_ner_command(
    data: Path = typer.Argument(
        ..., help="Training data: CMeEE (text|||start end type|||...), BIO/BIOES or JSON Lines."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle folder to write."),
    val: Path | None = typer.Option(
        None, "--val", help="Validation data (default: hold out 10% of DATA)."
    ),
    fmt: str = typer.Option("auto", "--format", help="auto, cmeee, bio or jsonl."),
    scheme: str = typer.Option(
        "per-type", "--scheme", help="Nested entities: per-type, flat-outer or flat-inner."
    ),
    epochs: int = typer.Option(30, "--epochs"),
    batch_size: int = typer.Option(32, "--batch-size"),
    lr: float = typer.Option(2e-3, "--lr"),
    patience: int = typer.Option(5, "--patience", help="Early-stopping patience (epochs)."),
    seed: int = typer.Option(0, "--seed"),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Training time budget."),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads."),
    skip_bad: bool = typer.Option(
        False,
        "--skip-bad-entities",
        help="Drop entities with impossible offsets (reported) instead of failing.",
    ),
) -> None:
    """Train a character-level BiLSTM-CRF entity tagger; writes a bundle with card and report."""
    from medai.text.ner import load_ner_data, train_ner

    errors: Literal["raise", "skip"] = "skip" if skip_bad else "raise"
    skipped: list[str] = []
    train_ex = load_ner_data(data, fmt, errors=errors, skipped=skipped)
    val_ex = load_ner_data(val, fmt, errors=errors, skipped=skipped) if val else None
    console = err_console()
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} entities[/] with impossible offsets:")
        for msg in skipped[:10]:
            console.print(f"  {msg}")
    with progress_bar("NER train") as progress:
        bundle = train_ner(
            train_ex, val_ex, scheme=scheme, epochs=epochs, batch_size=batch_size, lr=lr,
            patience=patience, seed=seed, max_minutes=max_minutes, num_threads=threads,
            progress=progress, source=data.name,
        )  # fmt: skip
    bundle.save(out)
    model = bundle.card["model"]
    print_metrics(
        bundle.card["metrics"]["val"],
        f"validation, strict entity-level micro (best epoch {model['best_epoch']} of "
        f"{model['epochs_run']}, {model['train_seconds']} s)",
    )
    table = Table(title="per label (validation)", title_justify="left")
    for col in ("label", "precision", "recall", "f1", "gold"):
        table.add_column(col)
    for label, m in bundle.card["per_label"]["val"].items():
        table.add_row(
            label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}",
            str(m["n_gold"]),
        )  # fmt: skip
    console.print(table)
    console.print(f"bundle written to {out} (report: {out / 'report.html'})")


def _write_jsonl(rows: list[dict[str, Any]], out: Path | None) -> None:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if out is None:
        sys.stdout.write(lines)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(lines)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ner_command(
    bundle: Path = NER_BUNDLE,
    source: Path = typer.Argument(
        ..., help="A text file (one sentence per line) or JSON Lines with a 'text' field."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="JSON Lines file to write (default: stdout)."
    ),
    batch_size: int = typer.Option(128, "--batch-size"),
) -> None:
    """Entities in each line: JSON Lines ``{"line", "entities": [{start, end, label, text,
    score}]}`` (offsets into the line, end exclusive; score = CRF marginal probability)."""
    from medai.text.ner import NerBundle, read_texts

    if out is not None and out.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
        raise InvalidInputError(f"--out {str(out)!r} must end in .jsonl")
    model = NerBundle.load(bundle)
    items = read_texts(source)
    rows: list[dict[str, Any]] = []
    with progress_bar("NER") as progress:
        for k in range(0, len(items), 1024):
            chunk = items[k : k + 1024]
            found = model.explain([t for _, t, _ in chunk], batch_size=batch_size)
            for (line, _, ident), ents in zip(chunk, found, strict=True):
                row: dict[str, Any] = {"line": line}
                if ident is not None:
                    row["id"] = ident
                row["entities"] = ents
                rows.append(row)
            progress("tagging", min(k + 1024, len(items)), len(items))
    _write_jsonl(rows, out)
    n = sum(len(r["entities"]) for r in rows)
    where = f" to {out}" if out else ""
    err_console().print(f"{n} entities in {len(rows)} lines written{where}")


def register(app: typer.Typer) -> None:
    """Add ``train-ner`` and ``ner`` to ``app`` (the ``medai text`` sub-app)."""
    app.command("train-ner")(train_ner_command)
    app.command("ner")(ner_command)
