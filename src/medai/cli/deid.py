"""``medai deid``: de-identify clinical notes and DICOM files; evaluate against gold PHI."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from medai.cli.common import err_console, progress_bar
from medai.core.errors import InvalidInputError

__all__ = ["app"]

app = typer.Typer(
    help="De-identification: PHI in English/Chinese notes (tags or consistent surrogates) and "
    "DICOM headers (PS3.15 Basic Profile).",
    no_args_is_help=True,
)

KEY_FILE = typer.Option(
    None, "--key-file",
    help="File holding the secret that keys surrogates and date shifts (or set "
    "MEDAI_DEID_KEY); the same key gives the same surrogates across runs.",
)  # fmt: skip


def _key(key_file: Path | None) -> str | None:
    if key_file is not None:
        if not key_file.is_file():
            raise InvalidInputError(f"--key-file {str(key_file)!r} does not exist")
        key = key_file.read_text(encoding="utf-8").strip()
        if len(key) < 16:
            raise InvalidInputError(f"the key in {str(key_file)!r} is shorter than 16 characters")
        return key
    return os.environ.get("MEDAI_DEID_KEY") or None


@app.command("text")
def text_command(
    sources: list[Path] = typer.Argument(
        ...,
        help="Notes: .txt files, folders of them, CSV/TSV/Parquet or JSONL (id, text, "
        "optional patient_id columns).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="De-identified notes (.jsonl)."),
    mode: str = typer.Option("tags", "--mode", help="tags ([NAME]) or surrogate (fake values)."),
    types: str = typer.Option("all", "--types", help="PHI types to remove, e.g. NAME,DATE,PHONE."),
    lang: str = typer.Option("auto", "--lang", help="auto, en or zh."),
    standoff: Path | None = typer.Option(
        None, "--standoff", help="Audit file (.jsonl): offsets and types of what was replaced."
    ),
    engine: str = typer.Option("process", "--engine", help="process, ray or serial."),
    workers: int | None = typer.Option(None, "--workers", help="Processes (default: all cores)."),
    text_col: str | None = typer.Option(None, "--text-col", help="Text column of a table."),
    id_col: str | None = typer.Option(None, "--id-col", help="Id column of a table."),
    encoding: str | None = typer.Option(None, "--encoding", help="Force an input encoding."),
    no_tagger: bool = typer.Option(False, "--no-tagger", help="Rules only, no trained tagger."),
    tagger: Path | None = typer.Option(
        None, "--tagger", help="Folder of taggers from `medai deid train-tagger`."
    ),
    key_file: Path | None = KEY_FILE,
) -> None:
    """De-identify notes into JSONL; resumable (run again to continue), written atomically."""
    from medai.privacy.batch import deidentify_notes
    from medai.privacy.phi import parse_types

    chosen = parse_types(types)
    with progress_bar("notes") as progress:
        result = deidentify_notes(
            sources, out, mode=mode, lang=lang, types=chosen, key=_key(key_file),
            standoff=standoff, engine=engine, workers=workers, text_col=text_col,
            id_col=id_col, encoding=encoding, progress=progress,
            tagger=None if no_tagger else (tagger if tagger is not None else "default"),
        )  # fmt: skip
    console = err_console()
    if result.n_errors:
        console.print(f"[yellow]{result.n_errors} notes could not be processed[/]; reasons in "
                      f"{result.errors}", soft_wrap=True)  # fmt: skip
    console.print(
        f"{result.n_done} notes de-identified ({result.n_phi} PHI spans replaced, mode {mode})"
        + (f", {result.n_skipped} already done" if result.n_skipped else "")
        + f"; written to {out}"
        + (f"; audit in {standoff}" if standoff else ""),
        soft_wrap=True,
    )


@app.command("evaluate")
def evaluate_command(
    gold: Path = typer.Argument(
        ..., help="Gold PHI: JSONL (id, text, spans), a brat folder, or PhysioNet id.text."
    ),
    pred: Path | None = typer.Option(
        None,
        "--pred",
        help="Predicted spans (standoff JSONL from `medai deid text "
        "--standoff` run on the gold texts); default: run medai on the gold texts now.",
    ),
    types: str = typer.Option("all", "--types", help="PHI types medai looks for."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Scores as JSON."),
    no_tagger: bool = typer.Option(False, "--no-tagger", help="Rules only, no trained tagger."),
    tagger: Path | None = typer.Option(
        None, "--tagger", help="Folder of taggers from `medai deid train-tagger`."
    ),
) -> None:
    """Recall, precision and F2 per type and overall, token- and span-level."""
    import json

    from rich.table import Table

    from medai.cli.common import out_console
    from medai.privacy.evaluate import read_gold, read_standoff, score
    from medai.privacy.phi import Span

    notes = read_gold(gold)
    predicted: dict[str, list[Span]] = {}
    if pred is not None:
        predicted = read_standoff(pred)
    else:
        from medai.privacy.deid import Deidentifier

        deid = Deidentifier(types=types, tagger=None if no_tagger else (tagger or "default"))
        with progress_bar("notes") as progress:
            for i, note in enumerate(notes):
                predicted[note.id] = deid.find(note.text, note.lang)
                progress("detecting", i + 1, len(notes))
    scores = score(notes, predicted)
    table = Table(title=f"de-identification: {scores.n_notes} notes")
    for col in ("level", "recall", "precision", "F2"):
        table.add_column(col)

    def f(v: float | None) -> str:
        return "–" if v is None or v != v else f"{v:.3f}"

    for row in scores.table():
        table.add_row(row["level"], f(row.get("recall")), f(row.get("precision")),
                      f(row.get("f2")))  # fmt: skip
    out_console().print(table)
    if out is not None:
        out.write_text(json.dumps(scores.to_dict(), indent=1), encoding="utf-8")
        err_console().print(f"scores written to {out}")


@app.command("dicom")
def dicom_command(
    source: Path = typer.Argument(..., help="A DICOM file or a folder of them."),
    out: Path = typer.Argument(..., help="Output file or folder (mirrors the input layout)."),
    key_file: Path | None = KEY_FILE,
    keep_private: bool = typer.Option(False, "--keep-private", help="Keep private tags."),
) -> None:
    """PS3.15 Annex E Basic Application Level Confidentiality Profile."""
    from medai.privacy.dicom import deidentify_path

    with progress_bar("files") as progress:
        result = deidentify_path(source, out, key=_key(key_file), keep_private=keep_private,
                                 progress=progress)  # fmt: skip
    console = err_console()
    for path, warning in result.warnings[:20]:
        console.print(f"[yellow]warning[/] {path}: {warning}", soft_wrap=True)
    for path, error in result.errors[:20]:
        console.print(f"[red]error[/] {path}: {error}", soft_wrap=True)
    console.print(f"{result.n_done} DICOM files de-identified into {out}; "
                  f"{len(result.errors)} failed; {len(result.warnings)} warnings", soft_wrap=True)  # fmt: skip
    if result.errors and not result.n_done:
        from medai.core.errors import DataFileError

        raise DataFileError(f"no DICOM file could be de-identified ({result.errors[0][1]})")


@app.command("train-tagger")
def train_tagger_command(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for tagger_en/zh.crfsuite."),
    lang: list[str] = typer.Option(["en", "zh"], "--lang", help="Languages (repeatable)."),
    gold: list[Path] = typer.Option(
        [],
        "--gold",
        help="Hand-annotated notes to train on (JSONL, brat or PhysioNet; "
        "repeatable; each note goes to its language's tagger).",
    ),
    synthetic: int = typer.Option(500, "--synthetic", help="Synthetic notes per language."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the CRF PHI tagger on gold notes plus synthetic notes with injected PHI (Faker);
    use it with `medai deid text --tagger FOLDER`."""
    from medai.privacy.evaluate import read_gold
    from medai.privacy.tagger import train_tagger

    if synthetic < 0:
        raise InvalidInputError(f"--synthetic must be >= 0, got {synthetic}")
    for code in lang:
        if code not in ("en", "zh"):
            raise InvalidInputError(f"--lang must be en or zh, got {code!r}")
    gold_notes = [note for path in gold for note in read_gold(path)]
    for code in lang:
        chosen = [n for n in gold_notes if (n.lang or code) == code]
        if not chosen and synthetic < 10:
            raise InvalidInputError(f"no {code} training notes: give --gold with {code} notes "
                                    "or --synthetic of at least 10")  # fmt: skip
        with progress_bar(f"tagger {code}") as progress:
            path = train_tagger(out / f"tagger_{code}.crfsuite", code, notes=chosen,
                                n_synthetic=synthetic, seed=seed, progress=progress)  # fmt: skip
        err_console().print(f"{code} tagger written to {path}")
