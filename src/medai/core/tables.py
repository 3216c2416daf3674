"""Reading patient tables (CSV or Parquet) with clear errors for broken files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from medai.core.errors import DataFileError

__all__ = ["fingerprint", "read_table", "write_table"]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV or Parquet file into a DataFrame.

    Parameters
    ----------
    path
        A ``.csv``/``.tsv``/``.txt`` (comma or tab separated, UTF-8) or ``.parquet`` file.

    Returns
    -------
    pandas.DataFrame
        One row per record, shape (n_rows, n_columns); column names stripped of spaces.

    Raises
    ------
    DataFileError
        The file is missing, empty, ragged (a row with the wrong number of fields),
        not UTF-8, not a table, or has duplicated column names.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"data file {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise DataFileError(f"{str(path)!r} is a folder; expected a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise DataFileError(f"data file {str(path)!r} is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        df = _read_parquet(path)
    else:
        df = _read_csv(path)
    if df.shape[1] == 0 or df.shape[0] == 0:
        raise DataFileError(
            f"data file {str(path)!r} has no data rows (columns: {df.shape[1]}); "
            "expected a header line followed by one row per patient"
        )
    names = [str(c).strip() for c in df.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataFileError(f"data file {str(path)!r} has duplicated column names: {dupes}")
    df.columns = pd.Index(names)
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ImportError as exc:  # pragma: no cover - pyarrow ships with the risk extra
        raise DataFileError(
            f"reading {str(path)!r} needs pyarrow: pip install 'medai[risk]'"
        ) from exc
    except Exception as exc:
        raise DataFileError(
            f"{str(path)!r} is not a readable Parquet file ({type(exc).__name__}); "
            "expected a Parquet table"
        ) from exc


def _read_csv(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(
            f"data file {str(path)!r} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at "
            f"line {line}; re-save the file as UTF-8 (e.g. from Excel: 'CSV UTF-8')"
        ) from None
    if not text.strip():
        raise DataFileError(f"data file {str(path)!r} holds only blank lines")
    sep = "\t" if path.suffix.lower() == ".tsv" or _sniff_tab(text) else ","
    _check_ragged(text, sep, path)
    try:
        return pd.read_csv(path, sep=sep, encoding="utf-8-sig", low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFileError(f"data file {str(path)!r} is not a valid CSV table: {exc}") from None


def _sniff_tab(text: str) -> bool:
    first = text.splitlines()[0]
    return first.count("\t") > first.count(",")


def _check_ragged(text: str, sep: str, path: Path) -> None:
    """Refuse rows whose field count differs from the header (pandas would shift columns)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    width: int | None = None
    for row in reader:
        lineno = reader.line_num
        if not row:
            continue
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise DataFileError(
                f"data file {str(path)!r} is ragged: line {lineno} has {len(row)} fields, "
                f"the header has {width}; fix or remove that line"
            )


def fingerprint(df: pd.DataFrame) -> str:
    """sha256 of a table's column names and values (row order matters, index ignored)."""
    import hashlib

    h = hashlib.sha256("\x1f".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV, JSON (records) or Parquet by suffix, atomically (temp + rename)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json", ".parquet"):
        raise DataFileError(f"output {str(path)!r} must end in .csv, .json or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix == ".json":
            df.to_json(tmp, orient="records", indent=1)
        else:
            df.to_parquet(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
