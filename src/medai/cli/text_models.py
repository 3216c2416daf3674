"""``medai text train|predict|explain|evaluate``: note classifiers (TF-IDF, GRU/BiLSTM,
fine-tuned transformers) on English and Chinese notes.

The commands are added to the ``medai text`` app with :func:`register`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from medai.cli.common import err_console, print_metrics, progress_bar, write_predictions
from medai.core.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    import pandas as pd

    from medai.text.model import TextBundle

__all__ = ["register"]

DATA = typer.Argument(..., help="Notes: CSV, TSV, Parquet or JSONL.", show_default=False)
BUNDLE = typer.Argument(..., help="Bundle folder written by `medai text train --out`.")
TEXT = typer.Option(None, "--text", help="Note column (default: the model's training column).")
ID = typer.Option(None, "--id", help="Column to copy into the output to identify each note.")
PRED_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")
EXPLAIN_CHUNK = 16


def register(app: typer.Typer) -> None:
    """Add the note-classifier commands (train, predict, explain, evaluate) to ``app``."""
    app.command("train")(train_command)
    app.command("predict")(predict_command)
    app.command("explain")(explain_command)
    app.command("evaluate")(evaluate_command)


def _atomic_write(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _load(bundle: Path) -> TextBundle:
    from medai.text.model import TextBundle

    return TextBundle.load(bundle)


def _read(data: Path, columns: list[str | None]) -> pd.DataFrame:
    from medai.text.classify import read_notes

    df = read_notes(data)
    for col in columns:
        if col is not None and col not in df.columns:
            raise SchemaError(
                f"column {col!r} is not in {str(data)!r}; its columns are {list(map(str, df.columns))}"
            )
    return df


def train_command(
    data: Path = DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Bundle folder to write."),
    text: str = typer.Option("text", "--text", help="Note column."),
    label: str = typer.Option("label", "--label", help="Label column (two or more classes)."),
    model: str = typer.Option("tfidf", "--model", help="tfidf, gru, bilstm or transformer."),
    pretrained: str | None = typer.Option(
        None, "--pretrained", help="Transformer: local model folder or a cached hub id."
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="Force en or zh (default: detected per note)."
    ),
    group: str | None = typer.Option(None, "--group", help="Patient id column: split by patient."),
    test_size: float = typer.Option(0.2, "--test-size", help="Held-out test fraction."),
    epochs: int | None = typer.Option(None, "--epochs", help="Neural models: maximum epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (default per model)."),
    max_len: int | None = typer.Option(None, "--max-len", help="Tokens (word pieces) per note."),
    patience: int = typer.Option(3, "--patience", help="Early-stopping patience (epochs)."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Training time budget."),
    examples: int = typer.Option(6, "--examples", help="Explained notes in the report (0: none)."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for 95% CIs."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Train a note classifier and write a bundle with its card and report.html."""
    from medai.text.classify import train

    with progress_bar(f"text train ({model})") as progress:
        bundle = train(data, text=text, label=label, model=model, pretrained=pretrained,
                       lang=lang, group=group, test_size=test_size, epochs=epochs,
                       batch_size=batch_size, lr=lr, max_len=max_len, patience=patience,
                       max_minutes=max_minutes, examples=examples, n_boot=n_boot, seed=seed,
                       progress=progress)  # fmt: skip
    bundle.save(out)
    print_metrics(bundle.card["metrics"]["test"], f"test metrics — {model}")
    for line in bundle.card["limitations"][2:]:  # the first two hold for every model
        err_console().print(f"[yellow]note:[/] {line}")
    err_console().print(f"bundle written to {out} (report: {out / 'report.html'})")


def predict_command(
    bundle: Path = BUNDLE,
    data: Path = DATA,
    text: str | None = TEXT,
    id_column: str | None = ID,
    out: Path | None = typer.Option(
        None, "--out", "-o", help="CSV, JSON, JSONL or Parquet to write (default: CSV on stdout)."
    ),
) -> None:
    """Predicted label and class probabilities (p_<class>) for each note."""
    if out is not None and out.suffix.lower() not in PRED_SUFFIXES:
        raise InvalidInputError(f"--out {str(out)!r} must end in one of {PRED_SUFFIXES}")
    b = _load(bundle)
    column = text or b.text_column
    df = _read(data, [column, id_column])
    preds = b.predict(df[column])
    if id_column is not None:
        preds.insert(0, id_column, df[id_column].to_numpy())
    if out is not None and out.suffix.lower() == ".jsonl":
        _atomic_write(out, (json.dumps(r, ensure_ascii=False, default=str)
                            for r in preds.to_dict(orient="records")))  # fmt: skip
        err_console().print(f"{len(preds)} predictions written to {out}")
    else:
        write_predictions(preds, out)


def explain_command(
    bundle: Path = BUNDLE,
    data: Path = DATA,
    text: str | None = TEXT,
    id_column: str | None = ID,
    top: int = typer.Option(10, "--top", help="Words to list per note."),
    html: Path | None = typer.Option(None, "--html", help="HTML page of highlighted notes."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="JSON-lines file to write (default: stdout)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Explain only the first N notes."),
    steps: int | None = typer.Option(
        None, "--steps", help="Integrated-gradient steps (neural models)."
    ),
) -> None:
    """The words that drove each prediction: JSON lines, and optionally an HTML view."""
    from medai.core.report import Report

    if html is not None and html.suffix.lower() not in (".html", ".htm"):
        raise InvalidInputError(f"--html {str(html)!r} must end in .html")
    if limit is not None and limit < 1:
        raise InvalidInputError(f"--limit {limit}; expected a positive number of notes")
    b = _load(bundle)
    column = text or b.text_column
    df = _read(data, [column, id_column])
    if limit is not None:
        df = df.head(limit)
    notes = df[column]
    exps: list[Any] = []
    with progress_bar("text explain") as progress:
        for i in range(0, len(notes), EXPLAIN_CHUNK):
            exps.extend(b.explain(notes.iloc[i : i + EXPLAIN_CHUNK], top=top, steps=steps))
            progress("notes", len(exps), len(notes))
    ids = df[id_column].tolist() if id_column is not None else None
    records = []
    for row, e in enumerate(exps, start=1):
        rec: dict[str, Any] = {"row": row}
        if ids is not None:
            rec[id_column or "id"] = ids[row - 1]
        records.append({**rec, **e.to_dict()})
    lines = [json.dumps(r, ensure_ascii=False, default=str) for r in records]
    if out is not None:
        _atomic_write(out, lines)
        err_console().print(f"{len(lines)} explanations written to {out}")
    else:
        for line in lines:
            typer.echo(line)
    if html is not None:
        page = Report(f"Explanations — note classifier ({', '.join(b.classes)})",
                      subtitle=f"model: {b.kind}; {exps[0].method if exps else ''}; green: "
                      "towards the predicted label, red: away from it")  # fmt: skip
        for rec, e in zip(records, exps, strict=True):
            name = f"{id_column} {rec[id_column]}" if id_column is not None else f"row {rec['row']}"
            page.add(name, e.to_html())
        page.save(html)
        err_console().print(f"HTML written to {html}")


def evaluate_command(
    bundle: Path = BUNDLE,
    data: Path = DATA,
    text: str | None = TEXT,
    label: str | None = typer.Option(
        None, "--label", help="Label column (default: the model's training column)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="HTML report to write."),
    examples: int = typer.Option(6, "--examples", help="Explained notes in the report (0: none)."),
    n_boot: int = typer.Option(1000, "--n-boot"),
) -> None:
    """External validation: metrics with 95% CIs (JSON on stdout) and an HTML report."""
    from medai.text.classify import evaluate

    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        raise InvalidInputError(f"--out {str(out)!r} must end in .html")
    b = _load(bundle)
    metrics, report = evaluate(b, data, text=text, label=label, n_boot=n_boot, examples=examples)
    as_dict = {k: v.to_dict() for k, v in metrics.items()}
    print_metrics(as_dict, "external validation")
    if out is not None:
        report.save(out)
        err_console().print(f"report written to {out}")
    typer.echo(json.dumps(as_dict, indent=2))
