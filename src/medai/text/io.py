"""Reading clinical notes: text files, folders of them, CSV/TSV/Parquet and JSON Lines.

Every note is decoded on its own (UTF-8, or GB18030/GBK for Chinese files, or the
``encoding`` given) and checked: an empty note, binary junk, undecodable bytes or a note over
``max_chars`` becomes a :class:`NoteError` record for that note alone, so one bad note never
stops a batch. Problems with the whole input (a missing file, a table without the text column)
raise :class:`~medai.core.errors.DataFileError`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medai.core.errors import DataFileError, InvalidInputError

__all__ = [
    "MAX_CHARS",
    "TEXT_SUFFIXES",
    "Note",
    "NoteError",
    "decode",
    "read_notes",
]

#: Default ceiling on one note (characters); larger notes become error records.
MAX_CHARS = 5_000_000
TEXT_SUFFIXES = (".txt", ".text", ".note", ".md")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_ID_COLUMNS = ("id", "note_id", "row_id", "document_id", "doc_id", "record_id")
_TEXT_COLUMNS = ("text", "note", "note_text", "content", "body", "report")
_PATIENT_COLUMNS = ("patient_id", "subject_id", "patient", "pid", "mrn", "person_id")


@dataclass(frozen=True)
class Note:
    """A decoded note: its ``id`` (file stem or id column), text and where it came from.

    ``patient_id`` comes from a ``patient_id``/``subject_id``/``mrn``/``patient`` column or
    field when the input has one.
    """

    id: str
    text: str
    source: str
    patient_id: str | None = None


@dataclass(frozen=True)
class NoteError:
    """A note that could not be read; ``error`` says why (never the note's content)."""

    id: str
    error: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "error": self.error, "source": self.source}


def _check_encoding(encoding: str | None) -> str | None:
    if encoding is None or encoding == "auto":
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidInputError(
            f"unknown encoding {encoding!r}; use e.g. 'utf-8', 'gb18030', 'gbk' or 'auto'"
        ) from None


def decode(raw: bytes, encoding: str | None = None) -> str:
    """Decode a note: the given encoding, else UTF-8 (with or without BOM), else GB18030.

    Raises
    ------
    ValueError
        With a message naming the first bad byte offset when nothing decodes it.
    """
    if encoding:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"bytes at offset {exc.start} are not valid {encoding}; check --encoding"
            ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise ValueError(
            f"bytes at offset {first_bad} are neither UTF-8 nor GB18030/GBK; pass --encoding"
        ) from None


def check_text(text: str, max_chars: int = MAX_CHARS) -> str | None:
    """Why a decoded note cannot be processed, or None when it is fine."""
    if not text.strip():
        return "empty note"
    if len(text) > max_chars:
        return f"note has {len(text):,} characters, over the limit of {max_chars:,} (--max-chars)"
    sample = text[:100_000]
    if "\x00" in sample:
        return "note contains NUL bytes: binary data, not text"
    controls = sum(1 for c in sample if (ord(c) < 32 and c not in "\n\r\t\f\v") or c == "\ufffd")
    if controls > max(8, len(sample) // 20):
        return f"note looks like binary data ({controls} control characters)"
    return None


def _note(
    id_: str, raw: bytes | str, source: str, encoding: str | None, max_chars: int,
    patient: str | None = None,
) -> Any:  # fmt: skip
    if isinstance(raw, bytes):
        if len(raw) > 4 * max_chars:
            return NoteError(
                id_,
                f"note has {len(raw):,} bytes, over the limit for --max-chars {max_chars:,}",
                source,
            )
        try:
            text = decode(raw, encoding)
        except ValueError as exc:
            return NoteError(id_, str(exc), source)
    else:
        text = raw
    problem = check_text(text, max_chars)
    if problem:
        return NoteError(id_, problem, source)
    return Note(id_, text, source, patient)


def _files(paths: Sequence[str | Path]) -> Iterator[Path]:
    for p in map(Path, paths):
        if not p.exists():
            raise DataFileError(f"{str(p)!r} does not exist")
        if p.is_file():
            yield p
            continue
        found = False
        for f in sorted(p.rglob("*")):
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in TEXT_SUFFIXES:
                found = True
                yield f
        if not found:
            raise DataFileError(f"folder {str(p)!r} has no note files ({', '.join(TEXT_SUFFIXES)})")


def _pick(
    columns: Sequence[str], given: str | None, candidates: Sequence[str], what: str, source: str
) -> str | None:
    if given is not None:
        if given not in columns:
            raise DataFileError(
                f"{source!r} has no {what} column {given!r}; columns: {', '.join(columns)}"
            )
        return given
    lower = {c.lower(): c for c in columns}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


def read_notes(
    paths: str | Path | Sequence[str | Path],
    *,
    text_col: str | None = None,
    id_col: str | None = None,
    encoding: str | None = None,
    max_chars: int = MAX_CHARS,
) -> Iterator[Note | NoteError]:
    """Read notes from files, folders (``*.txt`` inside, recursively), tables or JSON Lines.

    Parameters
    ----------
    paths : path or sequence of paths
        Plain-text files are one note each (id: the file name without suffix); CSV/TSV/Parquet
        and JSONL hold one note per row/line with an id and a text column (found by name, or
        ``text_col``/``id_col``; without an id column the row number is the id).
    encoding : str, optional
        Force an encoding; by default UTF-8, then GB18030 (which covers GBK).
    max_chars : int
        Notes over this many characters become error records.

    Yields
    ------
    Note or NoteError
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    encoding = _check_encoding(encoding)
    for f in _files(paths):
        suffix = f.suffix.lower()
        if suffix in TABLE_SUFFIXES:
            yield from _read_table(f, text_col, id_col, max_chars)
        elif suffix in JSONL_SUFFIXES:
            yield from _read_jsonl(f, text_col, id_col, encoding, max_chars)
        else:
            yield _note(f.stem, f.read_bytes(), str(f), encoding, max_chars)


def _read_table(
    f: Path, text_col: str | None, id_col: str | None, max_chars: int
) -> Iterator[Note | NoteError]:
    from medai.core.tables import read_table

    frame = read_table(f)
    columns = [str(c) for c in frame.columns]
    tcol = _pick(columns, text_col, _TEXT_COLUMNS, "text", str(f))
    if tcol is None:
        raise DataFileError(
            f"{str(f)!r} has no text column; name it with --text-col (columns: "
            f"{', '.join(columns)})"
        )
    icol = _pick(columns, id_col, _ID_COLUMNS, "id", str(f))
    pcol = _pick(columns, None, _PATIENT_COLUMNS, "patient", str(f))
    for i, (idx, value) in enumerate(frame[tcol].items()):
        id_ = str(frame[icol].iloc[i]) if icol else str(idx)
        where = f"{f}:row {i + 2}"
        if not isinstance(value, str):
            yield NoteError(
                id_,
                "empty note"
                if value is None or value != value
                else f"text is a {type(value).__name__}, not text",
                where,
            )
            continue
        patient = str(frame[pcol].iloc[i]) if pcol else None
        yield _note(id_, value, where, None, max_chars, patient)


def _read_jsonl(
    f: Path, text_col: str | None, id_col: str | None, encoding: str | None, max_chars: int
) -> Iterator[Note | NoteError]:
    with f.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{f}:line {n}"
            try:
                obj = json.loads(decode(line, encoding))
            except (ValueError, UnicodeDecodeError) as exc:
                yield NoteError(f"line {n}", f"not valid JSON: {str(exc)[:80]}", where)
                continue
            if not isinstance(obj, dict):
                yield NoteError(f"line {n}", "a JSON line must be an object", where)
                continue
            keys = list(obj)
            tcol = _pick(keys, text_col, _TEXT_COLUMNS, "text", where) if keys else None
            icol = _pick(keys, id_col, _ID_COLUMNS, "id", where) if keys else None
            id_ = str(obj[icol]) if icol else f"line {n}"
            if tcol is None:
                yield NoteError(id_, f"no text field (fields: {', '.join(keys)})", where)
                continue
            value = obj[tcol]
            if not isinstance(value, str):
                yield NoteError(id_, "text is not a string", where)
                continue
            pcol = _pick(keys, None, _PATIENT_COLUMNS, "patient", where)
            patient = str(obj[pcol]) if pcol and obj[pcol] is not None else None
            yield _note(id_, value, where, None, max_chars, patient)
