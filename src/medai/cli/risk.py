"""``medai risk``: train, predict, explain, evaluate and inspect the schema of risk models."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from medai.cli.common import (
    err_console,
    out_console,
    print_metrics,
    progress_bar,
    save_png,
    write_predictions,
)
from medai.core.errors import InvalidInputError

__all__ = ["app"]

app = typer.Typer(
    help="Clinical risk prediction from patient tables (binary outcomes and survival).",
    no_args_is_help=True,
)

DATA = typer.Argument(..., help="Patient table: CSV, TSV or Parquet.", show_default=False)
BUNDLE = typer.Argument(..., help="Bundle folder written by `medai risk train --out`.")
TARGET = typer.Option(None, "--target", help="Binary outcome column.")
TIME = typer.Option(None, "--time", help="Survival: follow-up time column.")
EVENT = typer.Option(None, "--event", help="Survival: event column (1 = event, 0 = censored).")
SCHEMA = typer.Option([], "--schema", help="Override a column type: COL=TYPE (repeatable).")
MISSING = typer.Option(
    [], "--missing", help="Values meaning missing: COL=V1[,V2] or *=V for all numeric columns."
)
KEEP = typer.Option([], "--keep", help="Keep a column flagged as ID-like or leaking.")
GROUP = typer.Option(None, "--group", help="Patient id column: patient-level splits.")
POSITIVE = typer.Option(None, "--positive", help="Target value meaning the outcome happened.")


def parse_missing(items: Sequence[str]) -> dict[str, list[Any]]:
    """Parse ``--missing`` options.

    ``["Glucose,BMI=0", "Insulin=0,-1", "*=999"]`` ->
    ``{"Glucose": [0], "BMI": [0], "Insulin": [0, -1], "*": [999]}``.
    """
    from medai.risk.schema import _as_number, parse_assignments

    out: dict[str, list[Any]] = {}
    for cols, values in parse_assignments(items, "--missing").items():
        codes = [_as_number(v.strip()) for v in values.split(",") if v.strip()]
        for col in cols.split(","):
            if col.strip():
                out[col.strip()] = codes
    return out


def _schema_table(schema_dict: dict[str, object]) -> Table:
    table = Table(title="schema", title_justify="left")
    for col in ("column", "type", "role", "note"):
        table.add_column(col)
    for c in schema_dict["columns"]:  # type: ignore[attr-defined]
        style = "dim" if c["role"] == "excluded" else None
        table.add_row(c["name"], c["type"], c["role"], c["reason"], style=style)
    return table


def _types(items: list[str]) -> dict[str, str]:
    from medai.risk.schema import parse_assignments

    return parse_assignments(items, "--schema")


@app.command("schema")
def schema_command(
    data: Path = DATA,
    target: str | None = TARGET,
    time: str | None = TIME,
    event: str | None = EVENT,
    schema: list[str] = SCHEMA,
    missing: list[str] = MISSING,
    keep: list[str] = KEEP,
    group: str | None = GROUP,
    positive: str | None = POSITIVE,
    as_json: bool = typer.Option(False, "--json", help="Print the schema as JSON."),
) -> None:
    """Show the inferred schema (types, roles, excluded columns and why) without training."""
    from medai.core.tables import read_table
    from medai.risk import infer_schema

    s = infer_schema(
        read_table(data),
        target=target,
        time=time,
        event=event,
        group=group,
        positive=positive,
        types=_types(schema),
        missing=parse_missing(missing),
        keep=keep,
    ).to_dict()
    if as_json:
        typer.echo(json.dumps(s, indent=2))
    else:
        out_console().print(_schema_table(s))


@app.command("train")
def train_command(
    data: Path = DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Bundle folder to write."),
    target: str | None = TARGET,
    time: str | None = TIME,
    event: str | None = EVENT,
    model: str = typer.Option("auto", "--model", help="auto, logistic, lightgbm, cox or rsf."),
    group: str | None = GROUP,
    subgroup: list[str] = typer.Option([], "--subgroup", help="Report metrics per level."),
    positive: str | None = POSITIVE,
    schema: list[str] = SCHEMA,
    missing: list[str] = MISSING,
    keep: list[str] = KEEP,
    horizon: list[float] = typer.Option([], "--horizon", help="Survival horizon (repeatable)."),
    test_size: float = typer.Option(0.2, "--test-size", help="Held-out test fraction."),
    cv_folds: int = typer.Option(5, "--cv-folds", help="CV folds on the training part."),
    cv_repeats: int = typer.Option(2, "--cv-repeats", help="CV repeats."),
    threshold: float = typer.Option(0.5, "--threshold", help="Probability cut-off in reports."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for 95% CIs."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Train a binary (--target) or survival (--time/--event) model and write a bundle."""
    from medai.risk import train

    err = err_console()
    with progress_bar("risk train") as progress:
        bundle = train(
            data,
            target=target,
            time=time,
            event=event,
            model=model,
            group=group,
            subgroups=subgroup,
            positive=positive,
            types=_types(schema),
            missing=parse_missing(missing),
            keep=keep,
            horizons=horizon or None,
            test_size=test_size,
            cv_folds=cv_folds,
            cv_repeats=cv_repeats,
            threshold=threshold,
            n_boot=n_boot,
            seed=seed,
            progress=progress,
        )
    err.print(_schema_table(bundle.card["input_schema"]))
    bundle.save(out)
    print_metrics(bundle.card["metrics"]["test"], f"test metrics — {bundle.card['model']['name']}")
    for w in bundle.card.get("warnings", []):
        err.print(f"[yellow]warning:[/] {w}")
    err.print(f"bundle written to {out} (report: {out / 'report.html'})")


@app.command("predict")
def predict_command(
    bundle: Path = BUNDLE,
    data: Path = DATA,
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV/JSON/Parquet to write."),
    top: int = typer.Option(3, "--top", help="Top contributing columns per row."),
) -> None:
    """Probabilities (or survival risks), risk group and top contributing columns per row."""
    from medai.risk import RiskBundle

    write_predictions(RiskBundle.load(bundle).predict(data, top=top), out)


@app.command("explain")
def explain_command(
    bundle: Path = BUNDLE,
    data: Path = DATA,
    row: int = typer.Option(
        1, "--row", help="Data row to explain (1 = first row after the header)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the explanation as JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a contribution chart (PNG)."),
) -> None:
    """Per-patient SHAP contributions of each column for one row."""
    from medai.core.tables import read_table
    from medai.risk import RiskBundle

    b = RiskBundle.load(bundle)
    df = read_table(data)
    if not 1 <= row <= len(df):
        raise InvalidInputError(f"--row {row} is out of range; the data has rows 1 to {len(df)}")
    one = df.iloc[[row - 1]]
    exp = b.explain(one)
    pred = b.predict(one, top=0).iloc[0].to_dict()
    values = exp.values.iloc[0].sort_values(key=abs, ascending=False)
    result: dict[str, Any] = {
        "row": row,
        "prediction": {k: (v if isinstance(v, str) else float(v)) for k, v in pred.items()},
        "scale": exp.scale,
        "base_value": float(exp.base[0]),
        "score": float(exp.score[0]),
        "contributions": [
            {"column": str(k), "value": _jsonable(one[k].iloc[0]), "contribution": float(v)}
            for k, v in values.items()
        ],
    }
    if out is not None:
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(result, indent=2))
        tmp.replace(out)
        err_console().print(f"explanation written to {out}")
    if plot is not None:
        from medai.core.report import contribution_figure

        fig = contribution_figure(
            list(exp.values.columns), exp.values.iloc[0].to_numpy(), exp.base[0], exp.score[0]
        )
        save_png(fig, plot)
    table = Table(title=f"row {row}: contributions ({exp.scale})", title_justify="left")
    for col in ("column", "value", "contribution"):
        table.add_column(col)
    for c in result["contributions"]:
        table.add_row(c["column"], str(c["value"]), f"{c['contribution']:+.3f}")
    console = out_console()
    console.print(f"prediction: {result['prediction']}")
    console.print(f"base value {result['base_value']:+.3f} -> score {result['score']:+.3f}")
    console.print(table)


def _jsonable(v: object) -> object:
    import numpy as np

    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    return v


@app.command("evaluate")
def evaluate_command(
    bundle: Path = BUNDLE,
    data: Path = DATA,
    out: Path | None = typer.Option(None, "--out", "-o", help="HTML report to write."),
    subgroup: list[str] = typer.Option([], "--subgroup", help="Report metrics per level."),
    threshold: float | None = typer.Option(None, "--threshold", help="Probability cut-off."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for 95% CIs."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """External validation on new labelled data with the training columns; metrics as JSON."""
    from medai.risk import RiskBundle, evaluate

    b = RiskBundle.load(bundle)
    with progress_bar("risk evaluate") as progress:
        ev = evaluate(
            b,
            data,
            subgroups=subgroup,
            threshold=threshold,
            n_boot=n_boot,
            seed=seed,
            progress=progress,
        )
    print_metrics(ev.metrics_dict(), "external validation")
    for w in ev.warnings:
        err_console().print(f"[yellow]warning:[/] {w}")
    if out is not None and ev.report is not None:
        ev.report.save(out)
        err_console().print(f"report written to {out}")
    typer.echo(json.dumps(ev.to_dict(), indent=2))
