"""``medai text``: extract concepts/context/medications, note classifiers, Chinese NER."""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from medai.cli.common import err_console, progress_bar
from medai.core.errors import InvalidInputError

__all__ = ["app"]

app = typer.Typer(
    help="Clinical notes in English and Chinese: concepts with context, medication orders, "
    "note classifiers and Chinese NER.",
    no_args_is_help=True,
)

FORMATS = ("jsonl", "csv", "html")
CONCEPT_COLUMNS = (
    "id", "kind", "start", "end", "text", "label", "code", "negated", "uncertain", "historical",
    "hypothetical", "family", "section",
)  # fmt: skip
MED_COLUMNS = (
    "drug", "strength", "unit", "dose", "dose_unit", "form", "route", "frequency", "per_day",
    "duration", "duration_days", "as_needed", "indication",
)  # fmt: skip


def _csv_rows(ann: dict[str, Any]) -> list[dict[str, Any]]:
    if "error" in ann:
        return [{"id": ann["id"], "kind": "error", "text": ann["error"]}]
    rows: list[dict[str, Any]] = []
    for c in ann["concepts"]:
        rows.append(
            {"id": ann["id"], "kind": "concept"} | {k: c.get(k) for k in CONCEPT_COLUMNS[2:]}
        )
    for m in ann["medications"]:
        rows.append(
            {"id": ann["id"], "kind": "medication", "start": m["start"], "end": m["end"],
             "text": m["text"], "label": "medication", "code": m.get("code")}
            | {k: m.get(k) for k in MED_COLUMNS}
        )  # fmt: skip
    return rows


class _Writer:
    """Writes annotations as JSONL/CSV/HTML to a temporary file renamed at the end."""

    def __init__(self, out: Path | None, fmt: str) -> None:
        self.out, self.fmt = out, fmt
        self.html_items: list[tuple[str | None, dict[str, Any]]] = []
        if out is None:
            self.fh: Any = sys.stdout
            self.tmp: str | None = None
        else:
            if not out.parent.exists():
                raise InvalidInputError(f"folder {str(out.parent)!r} for --out does not exist")
            fd, self.tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
            self.fh = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
        self.csv: Any = None
        if fmt == "csv":
            self.csv = csv.DictWriter(self.fh, fieldnames=[*CONCEPT_COLUMNS, *MED_COLUMNS])
            self.csv.writeheader()

    def write(self, ann: dict[str, Any], text: str | None) -> None:
        if self.fmt == "jsonl":
            self.fh.write(json.dumps(ann, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            self.csv.writerows(_csv_rows(ann))
        else:
            self.html_items.append((text, ann))

    def close(self, ok: bool) -> None:
        if self.fmt == "html" and ok:
            from medai.text.view import notes_html

            self.fh.write(notes_html(self.html_items, title="medai text extract"))
        if self.tmp is None:
            self.fh.flush()
            return
        self.fh.close()
        if ok and self.out is not None:
            os.replace(self.tmp, self.out)
        else:
            os.unlink(self.tmp)


@app.command("extract")
def extract_command(
    inputs: list[Path] = typer.Argument(
        ..., help="Note files (.txt), folders of them, CSV/TSV/Parquet or JSONL with a text column."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file (default: stdout)."),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl, csv or html."),
    lang: str = typer.Option("auto", "--lang", help="auto (per note), en or zh."),
    encoding: str = typer.Option(
        "auto", "--encoding", help="auto (UTF-8, else GB18030) or a codec."
    ),
    text_col: str | None = typer.Option(None, "--text-col", help="Text column of a table/JSONL."),
    id_col: str | None = typer.Option(None, "--id-col", help="Id column of a table/JSONL."),
    lexicon: list[Path] = typer.Option(
        [], "--lexicon", help="User lexicon CSV/TSV/YAML (term,label[,code]); repeatable."
    ),
    context_rules: Path | None = typer.Option(
        None, "--context-rules", help="ConText rules YAML replacing the bundled ones."
    ),
    section_rules: Path | None = typer.Option(
        None, "--section-rules", help="Section header rules YAML replacing the bundled ones."
    ),
    icd: bool = typer.Option(True, "--icd/--no-icd", help="Match ICD-10-CM diagnoses (English)."),
    drugs: bool = typer.Option(True, "--drugs/--no-drugs", help="Match English drug names."),
    ner: Path | None = typer.Option(None, "--ner", help="NER bundle from `medai text train-ner`."),
    max_chars: int = typer.Option(5_000_000, "--max-chars", help="Longest note accepted."),
) -> None:
    """Sections, concepts with negation/uncertainty/history/hypothetical/family, medication
    orders. One bad note gives an error record; the others go on."""
    from medai.text.extract import Extractor
    from medai.text.io import Note, read_notes
    from medai.text.segment import check_lang

    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown --format {fmt!r}; expected {', '.join(FORMATS)}")
    if max_chars < 1:
        raise InvalidInputError(f"--max-chars must be positive, got {max_chars}")
    check_lang(lang)
    extractor = Extractor(
        lang=lang,
        lexicons=lexicon,
        icd=icd,
        drugs=drugs,
        context=context_rules,
        sections=section_rules,
        ner=ner,
    )
    notes = read_notes(
        inputs, text_col=text_col, id_col=id_col, encoding=encoding, max_chars=max_chars
    )
    writer = _Writer(out, fmt)
    n = errors = 0
    ok = False
    try:
        with progress_bar("notes") as progress:
            for note in notes:
                ann = next(extractor.extract_many([note]))
                writer.write(ann, note.text if isinstance(note, Note) else None)
                n += 1
                errors += "error" in ann
                progress("extracting", n, n)
        ok = True
    finally:
        writer.close(ok)
    console = err_console()
    where = f" to {out}" if out else ""
    console.print(
        f"{n} notes annotated{where}"
        + (f"; {errors} could not be read (error records)" if errors else "")
    )


def _register() -> None:
    from medai.cli import text_models, text_ner

    text_models.register(app)
    text_ner.register(app)


_register()
