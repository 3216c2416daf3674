"""Read molecule tables (CSV/TSV/Parquet, ``.smi``, SDF) into standardised RDKit molecules.

Every input row ends up either as a kept molecule or as a :class:`Rejection` naming its row and
the reason (empty SMILES, SMILES syntax error, sanitisation error with RDKit's message, too many
atoms, failed standardisation, unreadable or empty SDF record); none is dropped silently.
Duplicates (the same canonical SMILES after standardisation) are merged, kept or reduced to the
first occurrence, and recorded in :attr:`MolTable.duplicates`.

Row numbers
    CSV/TSV/Parquet: 1-based data rows (row 1 is the line after the header).
    ``.smi``: 1-based data lines (a header line, if any, is not counted).
    SDF: 1-based record index.

Standardisation (:func:`standardize_mol`)
    RDKit MolStandardize: ``Cleanup`` (remove Hs, disconnect metals, normalise functional
    groups, reionise), the largest organic fragment (``LargestFragmentChooser``, strips salts
    and solvents), ``Uncharger`` (neutralise where possible) and, optionally, the canonical
    tautomer (``TautomerEnumerator.Canonicalize``, slow).

RDKit's C++ log is silenced while medai parses (``rdBase.BlockLogs``, restored afterwards);
failure messages are captured and put into the rejection reasons instead. RDKit is imported
only when a function needs it (the ``molecules`` extra).
"""

from __future__ import annotations

import gzip
import io
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from medai.core.errors import DataFileError, InvalidInputError, SchemaError, require

if TYPE_CHECKING:
    from rdkit.Chem import Mol

__all__ = [
    "MOLECULE_SUFFIXES",
    "Duplicate",
    "MolTable",
    "Rejection",
    "canonical_smiles",
    "find_id_column",
    "find_smiles_column",
    "parse_smiles",
    "read_molecules",
    "standardize_mol",
]

Progress = Callable[[str, int, int], None]
Dedupe = Literal["merge", "first", "keep"]

#: Column names recognised as SMILES (case-insensitive), in order of preference.
SMILES_COLUMN_NAMES = (
    "smiles", "canonical_smiles", "isomeric_smiles", "smiles_string", "can_smiles", "smi",
    "mol", "molecule", "structure",
)  # fmt: skip
#: Column names recognised as molecule ids (case-insensitive), in order of preference.
ID_COLUMN_NAMES = (
    "id", "mol_id", "molecule_id", "compound_id", "compound id", "chembl_id",
    "molecule_chembl_id", "cid", "name", "compound", "title",
)  # fmt: skip

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".csv.gz", ".tsv.gz", ".txt.gz")
SMI_SUFFIXES = (".smi", ".smiles", ".ism", ".smi.gz")
SDF_SUFFIXES = (".sdf", ".sd", ".sdf.gz")
MOLECULE_SUFFIXES = TABLE_SUFFIXES + SMI_SUFFIXES + SDF_SUFFIXES

_CHUNK = 1024
_LOG_PREFIX = re.compile(r"^\[[0-9:]+\]\s*")


@dataclass(frozen=True)
class Rejection:
    """One input row that did not become a molecule.

    Attributes
    ----------
    row : int
        1-based data row (CSV/TSV/``.smi``) or SDF record index.
    id : str or None
        The row's id when the file has one.
    input : str
        The SMILES as given (``""`` when empty), or ``"SDF record N"``.
    reason : str
        Why, e.g. ``"invalid SMILES: unclosed ring"``, ``"sanitisation failed: Explicit valence
        for atom # 0 C, 5, is greater than permitted"``, ``"2000 atoms, over the limit of 1000"``.
    """

    row: int
    id: str | None
    input: str
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """Input rows that gave the same canonical SMILES.

    Attributes
    ----------
    smiles : str
        The shared canonical (standardised) SMILES.
    rows : tuple of int
        Their row numbers in the file, first occurrence first (that one is kept for
        ``dedupe="merge"`` and ``"first"``).
    ids : tuple of str
        Their ids, in the same order.
    """

    smiles: str
    rows: tuple[int, ...]
    ids: tuple[str, ...]


@dataclass
class MolTable:
    """Molecules read from a file, with what was rejected and merged.

    ``ids``, ``smiles``, ``mols``, ``rows`` and the rows of ``frame`` are aligned (n kept
    molecules).

    Attributes
    ----------
    ids : list of str, length n
        From the id column (or SDF title / ``.smi`` name), else the row number as text.
    smiles : list of str, length n
        Canonical SMILES of the (standardised) molecules.
    mols : list of rdkit.Chem.Mol, length n
        The (standardised) molecules.
    frame : pandas.DataFrame, shape (n, n_columns)
        ``row``, ``id``, ``smiles`` (canonical), ``input_smiles`` (as given; SDF: the record's
        SMILES before standardisation), then the file's other columns (SDF: ``name`` and the
        properties; an input column named like an added one gets the suffix ``_input``). With
        ``dedupe="merge"`` also ``n_rows`` (input rows merged into the row) and, for each column
        ``c`` of an explicit ``label_cols``, ``c_std`` (sample standard deviation of the merged
        values, NaN below 2 values) and ``c_n`` (number of non-missing values).
    rejected : list of Rejection
        Every input row that did not become a molecule, in file order.
    duplicates : list of Duplicate
        Groups of rows with the same canonical SMILES (reported for every ``dedupe`` mode).
    rows : list of int, length n
        File row of each kept molecule (the first one of a merged group).
    source : str or None
        The file read.
    smiles_col, id_col : str or None
        The columns used.
    label_cols : list of str
        Numeric columns checked and, with ``dedupe="merge"``, averaged.
    dedupe : str
        The duplicate policy applied.
    """

    ids: list[str]
    smiles: list[str]
    mols: list[Mol]
    frame: pd.DataFrame
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    source: str | None = None
    smiles_col: str | None = None
    id_col: str | None = None
    label_cols: list[str] = field(default_factory=list)
    dedupe: str = "merge"

    def __len__(self) -> int:
        return len(self.mols)

    @property
    def n_input(self) -> int:
        """Number of input rows (kept + rejected + dropped duplicates)."""
        dropped = 0 if self.dedupe == "keep" else sum(len(d.rows) - 1 for d in self.duplicates)
        return len(self.mols) + len(self.rejected) + dropped

    @property
    def n_duplicate_rows(self) -> int:
        """Rows that repeat an earlier molecule (merged or dropped unless ``dedupe="keep"``)."""
        return sum(len(d.rows) - 1 for d in self.duplicates)

    def rejected_frame(self) -> pd.DataFrame:
        """The rejections as a table with columns ``row``, ``id``, ``input``, ``reason``."""
        return pd.DataFrame(
            [(r.row, r.id, r.input, r.reason) for r in self.rejected],
            columns=["row", "id", "input", "reason"],
        )

    def labels(self, cols: Sequence[str] | None = None) -> np.ndarray:
        """Label matrix, shape (n, n_labels), float64 (NaN where missing)."""
        use = list(cols) if cols is not None else self.label_cols
        missing = [c for c in use if c not in self.frame.columns]
        if missing:
            raise SchemaError(
                f"label column(s) {missing} not in the table; columns: {list(self.frame.columns)}"
            )
        return self.frame[use].to_numpy(dtype=np.float64)

    def summary(self) -> str:
        """One line: how many molecules were kept, rejected and merged."""
        what = {"merge": "merged", "first": "dropped", "keep": "kept"}[self.dedupe]
        src = f" from {self.source}" if self.source else ""
        return (
            f"{len(self)} molecules{src}; {len(self.rejected)} rejected; "
            f"{self.n_duplicate_rows} duplicate rows {what}"
        )


# --- RDKit helpers -----------------------------------------------------------------------------
def _chem() -> Any:
    return require("rdkit.Chem", "molecules")


def _rdbase() -> Any:
    return require("rdkit.rdBase", "molecules")


def _clean_log(messages: str) -> list[str]:
    return [_LOG_PREFIX.sub("", line).strip() for line in messages.splitlines() if line.strip()]


def _parse_error(text: str) -> str:
    """Reason for a SMILES that fails: syntax (with RDKit's message) or sanitisation."""
    Chem = _chem()
    rdBase = _rdbase()
    with rdBase.BlockLogs(), rdBase.CaptureErrorLog() as cap:
        mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None:
        return "invalid SMILES: " + _syntax_message(cap.messages)
    try:
        with rdBase.BlockLogs():
            Chem.SanitizeMol(mol)
    except Exception as exc:
        return f"sanitisation failed: {_exc_message(exc)}"
    return "RDKit could not read it"  # pragma: no cover - parse fails but pieces succeed


def _syntax_message(messages: str) -> str:
    lines = _clean_log(messages)
    what = "syntax error"
    position = ""
    for line in lines:
        body = line.removeprefix("SMILES Parse Error:").strip()
        if body.startswith("check for mistakes around position"):
            position = body.removeprefix("check for mistakes").strip().rstrip(":")
        elif line.startswith("SMILES Parse Error:") and what == "syntax error":
            if body.startswith("Failed parsing SMILES"):
                continue
            body = re.split(r" (?:for input|while parsing)\b", body, maxsplit=1)[0]
            what = body.strip().rstrip(":") or what
    return f"{what} ({position})" if position else what


def _exc_message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def parse_smiles(
    smiles: Sequence[str],
    *,
    max_atoms: int | None = 1000,
    rows: Sequence[int] | None = None,
    ids: Sequence[str | None] | None = None,
    progress: Progress | None = None,
) -> tuple[list[Mol | None], list[Rejection]]:
    """Parse and sanitise SMILES fast, explaining every failure.

    The fast path is a plain ``Chem.MolFromSmiles`` per string with RDKit's log blocked; only a
    failed string is parsed again (without, then with sanitisation) to find the reason.

    Parameters
    ----------
    smiles : sequence of str, length n
        SMILES strings (not stripped; a non-string counts as an empty SMILES).
    max_atoms : int or None
        Molecules with more (heavy) atoms are rejected; ``None`` for no limit.
    rows : sequence of int, length n, optional
        Row numbers to report (default ``1..n``).
    ids : sequence of str, length n, optional
        Ids to report in rejections.
    progress : callable(step, done, total), optional
        Called after each chunk of 1024 strings.

    Returns
    -------
    mols : list of rdkit.Chem.Mol or None, length n
        The molecule for each string, ``None`` where rejected.
    rejections : list of Rejection
        One per ``None`` in ``mols``, in input order.
    """
    Chem = _chem()
    rdBase = _rdbase()
    if max_atoms is not None and max_atoms < 1:
        raise InvalidInputError(f"max_atoms must be at least 1, got {max_atoms}")
    n = len(smiles)
    if rows is not None and len(rows) != n:
        raise InvalidInputError(f"rows has {len(rows)} entries for {n} SMILES")
    if ids is not None and len(ids) != n:
        raise InvalidInputError(f"ids has {len(ids)} entries for {n} SMILES")
    from_smiles = Chem.MolFromSmiles
    limit = max_atoms if max_atoms is not None else math.inf
    mols: list[Mol | None] = []
    rejections: list[Rejection] = []
    with rdBase.BlockLogs():
        for start in range(0, n, _CHUNK):
            part = smiles[start : start + _CHUNK]
            try:
                parsed = [from_smiles(s) for s in part]
            except Exception:  # a non-string somewhere in this chunk: go one by one
                parsed = [from_smiles(s) if isinstance(s, str) else None for s in part]
            for j, mol in enumerate(parsed):
                if mol is not None:
                    n_atoms = mol.GetNumAtoms()
                    if 0 < n_atoms <= limit:
                        continue
                i = start + j
                text = smiles[i] if isinstance(smiles[i], str) else ""
                if mol is not None and n_atoms > limit:
                    reason = f"{n_atoms} atoms, over the limit of {max_atoms}"
                elif mol is not None or not text.strip():
                    reason = "empty SMILES"
                else:
                    reason = _parse_error(text)
                parsed[j] = None
                rejections.append(
                    Rejection(
                        row=int(rows[i]) if rows is not None else i + 1,
                        id=ids[i] if ids is not None else None,
                        input=text,
                        reason=reason,
                    )
                )
            mols.extend(parsed)
            if progress is not None:
                progress("parsing SMILES", min(start + _CHUNK, n), n)
    return mols, rejections


# --- standardisation ---------------------------------------------------------------------------
class _Standardizer:
    """RDKit MolStandardize objects, created once per process (see :func:`standardize_mol`)."""

    _instance: _Standardizer | None = None

    def __init__(self) -> None:
        S = require("rdkit.Chem.MolStandardize.rdMolStandardize", "molecules")
        self.S = S
        self.chooser = S.LargestFragmentChooser(preferOrganic=True)
        self.uncharger = S.Uncharger(canonicalOrder=True)
        self.tautomers = S.TautomerEnumerator()

    @classmethod
    def get(cls) -> _Standardizer:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance


def standardize_mol(mol: Mol, tautomer: bool = False) -> Mol:
    """Standardise a molecule: cleanup, largest fragment, neutralise, optional tautomer.

    Parameters
    ----------
    mol : rdkit.Chem.Mol
        A sanitised molecule (not modified).
    tautomer : bool
        Also replace it by RDKit's canonical tautomer (slow on large molecules).

    Returns
    -------
    rdkit.Chem.Mol
        A new molecule: ``rdMolStandardize.Cleanup`` (remove Hs, disconnect metals, normalise,
        reionise), ``LargestFragmentChooser(preferOrganic=True)`` (salts and solvents removed),
        ``Uncharger`` (charges neutralised where a neutral form exists), then
        ``TautomerEnumerator.Canonicalize`` if ``tautomer``; valences checked again at the end.

    Raises
    ------
    InvalidInputError
        ``mol`` is None, or RDKit fails on it (the message gives RDKit's reason).
    """
    if mol is None:
        raise InvalidInputError("standardize_mol got None instead of an RDKit molecule")
    st = _Standardizer.get()
    rdBase = _rdbase()
    try:
        with rdBase.BlockLogs():
            out = st.S.Cleanup(mol)
            out = st.chooser.choose(out)
            out = st.uncharger.uncharge(out)
            if tautomer:
                out = st.tautomers.Canonicalize(out)
            out.UpdatePropertyCache(strict=True)  # the steps can break valences: [SbH6+3]
    except Exception as exc:
        raise InvalidInputError(f"standardisation failed: {_exc_message(exc)}") from exc
    return out


def canonical_smiles(mol: Mol) -> str:
    """RDKit canonical isomeric SMILES of ``mol``."""
    return str(_chem().MolToSmiles(mol))


# --- readers -------------------------------------------------------------------------------------
def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suf in sorted(MOLECULE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suf):
            return suf
    return path.suffix.lower()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataFileError(f"molecule file {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise DataFileError(f"{str(path)!r} is a folder; expected a molecule file")
    if path.stat().st_size == 0:
        raise DataFileError(f"molecule file {str(path)!r} is empty (0 bytes)")


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataFileError(
                f"{str(path)!r} is not a readable gzip file ({exc}); "
                "expected a gzip-compressed table or remove the .gz suffix"
            ) from None
    return raw


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(
            f"{str(path)!r} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}; "
            "re-save the file as UTF-8"
        ) from None


def _read_gz_table(path: Path) -> pd.DataFrame:
    text = _decode(_read_bytes(path), path)
    if not text.strip():
        raise DataFileError(f"{str(path)!r} holds only blank lines")
    first = text.split("\n", 1)[0]
    sep = "\t" if ".tsv" in path.name.lower() or first.count("\t") > first.count(",") else ","
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFileError(f"{str(path)!r} is not a valid CSV table: {exc}") from None
    if df.shape[0] == 0:
        raise DataFileError(f"{str(path)!r} has no data rows; expected a header and one row each")
    df.columns = pd.Index([str(c).strip() for c in df.columns])
    return df


def _read_table_file(path: Path) -> pd.DataFrame:
    from medai.core.tables import read_table

    if path.name.lower().endswith(".gz"):
        return _read_gz_table(path)
    return read_table(path)


def _read_smi(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """``.smi``: ``SMILES [whitespace name]`` per line, optional header; blank lines skipped."""
    text = _decode(_read_bytes(path), path)
    lines = text.splitlines()
    header = 0
    if lines and lines[0].split() and lines[0].split()[0].lower() in SMILES_COLUMN_NAMES:
        header = 1
    smiles: list[str] = []
    names: list[str | None] = []
    rows: list[int] = []
    for lineno, line in enumerate(lines[header:], start=1):
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        smiles.append(parts[0])
        names.append(parts[1].strip() if len(parts) > 1 else None)
        rows.append(lineno)
    if not smiles:
        raise DataFileError(f"{str(path)!r} has no SMILES lines; expected 'SMILES [name]' lines")
    frame = pd.DataFrame({"smiles": smiles, "name": names})
    return frame, rows


def _iter_sdf(path: Path) -> Iterator[tuple[int, Any, str]]:
    """Yield (record index, unsanitised mol or None, captured RDKit log) per SDF record."""
    Chem = _chem()
    rdBase = _rdbase()
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        supplier = Chem.ForwardSDMolSupplier(fh, sanitize=False, removeHs=False)
        it = iter(supplier)
        index = 0
        while True:
            with rdBase.BlockLogs(), rdBase.CaptureErrorLog() as cap:
                try:
                    mol = next(it)
                except StopIteration:
                    return
                except Exception as exc:  # a broken gzip stream or I/O error
                    raise DataFileError(
                        f"{str(path)!r} could not be read after record {index}: {_exc_message(exc)}"
                    ) from None
            index += 1
            yield index, mol, cap.messages


def _read_sdf(
    path: Path, max_atoms: int | None
) -> tuple[pd.DataFrame, list[Any], list[int], list[Rejection]]:
    """SDF records to a property frame (plus ``_Name``) and sanitised molecules."""
    Chem = _chem()
    rdBase = _rdbase()
    records: list[dict[str, Any]] = []
    mols: list[Any] = []
    rows: list[int] = []
    rejected: list[Rejection] = []
    limit = max_atoms if max_atoms is not None else math.inf
    for index, mol, log in _iter_sdf(path):
        where = f"SDF record {index}"
        if mol is None:
            lines = [ln.removeprefix("ERROR:").strip() for ln in _clean_log(log)]
            lines = [ln for ln in lines if not ln.startswith("moving to the beginning")]
            detail = lines[0] if lines else "not a valid molblock"
            rejected.append(Rejection(index, None, where, f"unreadable record: {detail}"))
            continue
        name = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
        rid = name or None
        n_atoms = mol.GetNumAtoms()
        if n_atoms == 0:
            rejected.append(Rejection(index, rid, where, "empty record (no atoms)"))
            continue
        try:
            with rdBase.BlockLogs():
                Chem.SanitizeMol(mol)
                mol = Chem.RemoveHs(mol)
        except Exception as exc:
            rejected.append(
                Rejection(index, rid, where, f"sanitisation failed: {_exc_message(exc)}")
            )
            continue
        heavy = mol.GetNumAtoms()
        if heavy > limit:
            rejected.append(
                Rejection(index, rid, where, f"{heavy} atoms, over the limit of {max_atoms}")
            )
            continue
        props = {"name": name or None}
        props.update(mol.GetPropsAsDict(includePrivate=False, includeComputed=False))
        records.append(props)
        mols.append(mol)
        rows.append(index)
    if not records and not rejected:
        raise DataFileError(f"{str(path)!r} holds no SDF records; expected a V2000/V3000 SD file")
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame({"name": []})
    for col in frame.columns:
        if frame[col].dtype == object:
            converted = pd.to_numeric(frame[col], errors="coerce")
            if converted.notna().sum() == frame[col].notna().sum():
                frame[col] = converted
    return frame, mols, rows, rejected


def find_smiles_column(columns: Sequence[str]) -> str | None:
    """The SMILES column among ``columns`` by the usual names (case-insensitive), or None."""
    lower = {str(c).strip().lower(): str(c) for c in columns}
    for name in SMILES_COLUMN_NAMES:
        if name in lower:
            return lower[name]
    return None


def find_id_column(columns: Sequence[str], exclude: str) -> str | None:
    """The id column among ``columns`` (``id``, ``mol_id``, ``name``, ... case-insensitive),
    other than ``exclude`` (the SMILES column); None when there is none."""
    lower = {str(c).strip().lower(): str(c) for c in columns if c != exclude}
    for name in ID_COLUMN_NAMES:
        if name in lower:
            return lower[name]
    return None


def _id_text(value: Any, row: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return str(row)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or str(row)


def _check_labels(frame: pd.DataFrame, label_cols: Sequence[str], rows: Sequence[int]) -> None:
    """Convert label columns to numbers in place, or raise naming the first bad rows."""
    missing = [c for c in label_cols if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"label column(s) {missing} not found; the file has columns {list(frame.columns)}"
        )
    for col in label_cols:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        if pd.api.types.is_bool_dtype(values):
            frame[col] = values.astype(np.float64)
            continue
        text = values.astype("string").str.strip()
        numbers = pd.to_numeric(text.mask(text == ""), errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() & text.notna().to_numpy() & (text != ""))
        if len(bad):
            shown = ", ".join(f"row {rows[i]} ({str(values.iloc[i])[:20]!r})" for i in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise SchemaError(
                f"label column {col!r} has values that are not numbers: {shown}{more}; "
                "expected numbers (leave a cell blank for a missing label)"
            )
        frame[col] = numbers.astype(np.float64)


def _reserve(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Rename input columns that clash with the columns medai adds (suffix ``_input``)."""
    clash = {c: f"{c}_input" for c in frame.columns if c in names}
    return frame.rename(columns=clash) if clash else frame


def read_molecules(
    path: str | Path,
    *,
    smiles_col: str | None = None,
    id_col: str | None = None,
    standardize: bool = True,
    tautomer: bool = False,
    max_atoms: int | None = 1000,
    dedupe: Dedupe = "merge",
    label_cols: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> MolTable:
    """Read molecules from CSV/TSV/Parquet (``.gz`` too), ``.smi`` or SDF.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv``, ``.txt``, ``.parquet`` (``.csv.gz``/``.tsv.gz``), ``.smi``/``.smiles``
        /``.ism`` (``SMILES [name]`` per line, optional header), ``.sdf``/``.sd``/``.sdf.gz``
        (record properties become columns, the title becomes ``name``).
    smiles_col : str, optional
        Column holding SMILES (tables); default: the first of ``smiles``, ``canonical_smiles``,
        ``isomeric_smiles``, ``smiles_string``, ``can_smiles``, ``smi``, ``mol``, ``molecule``,
        ``structure`` (case-insensitive).
    id_col : str, optional
        Column holding ids; default: ``id``, ``mol_id``, ``compound id``, ``name``, ... if
        present (SDF/``.smi``: the title/name), else the row number.
    standardize : bool
        Apply :func:`standardize_mol` (cleanup, largest fragment, neutralise).
    tautomer : bool
        Also canonicalise tautomers (only with ``standardize``).
    max_atoms : int or None
        Reject molecules with more heavy atoms (as parsed, before salt stripping).
    dedupe : {"merge", "first", "keep"}
        Rows with the same canonical SMILES: ``"merge"`` keeps one row whose numeric label
        columns are the mean of the group, or for 0/1 columns the majority class (a tie is
        contradictory and becomes missing); ``c_std``, ``c_n`` columns are added for explicit
        ``label_cols``; other columns come from the first row. ``"first"`` keeps the first row,
        ``"keep"`` keeps all. Groups are listed in :attr:`MolTable.duplicates` whatever the
        mode.
    label_cols : sequence of str, optional
        Columns that must hold numbers (blank for missing). Default for merging: every numeric
        column except the id.
    progress : callable(step, done, total), optional
        Progress callback.

    Returns
    -------
    MolTable
        Kept molecules, the frame of their rows, rejections and duplicate groups.

    Raises
    ------
    DataFileError
        The file is missing, empty, not decodable or of an unknown type.
    SchemaError
        No SMILES column (the message lists the columns), an unknown id or label column, or a
        label value that is not a number (the message names the column and rows).
    InvalidInputError
        Bad options.
    """
    path = Path(path)
    if dedupe not in ("merge", "first", "keep"):
        raise InvalidInputError(f"dedupe must be 'merge', 'first' or 'keep', got {dedupe!r}")
    if tautomer and not standardize:
        raise InvalidInputError("tautomer=True needs standardize=True")
    if max_atoms is not None and max_atoms < 1:
        raise InvalidInputError(f"max_atoms must be at least 1, got {max_atoms}")
    _check_file(path)
    suffix = _suffix(path)
    if suffix not in MOLECULE_SUFFIXES:
        raise DataFileError(
            f"{str(path)!r} has an unknown type {suffix!r}; expected one of "
            f"{', '.join(MOLECULE_SUFFIXES)}"
        )

    pre_mols: list[Any] | None = None
    rejected: list[Rejection] = []
    if suffix in SDF_SUFFIXES:
        frame, pre_mols, rows, rejected = _read_sdf(path, max_atoms)
        used_smiles_col: str | None = None
        if smiles_col is not None:
            raise InvalidInputError("smiles_col does not apply to SDF files (structures are read)")
        with _rdbase().BlockLogs():
            inputs: list[str] = [_chem().MolToSmiles(m) for m in pre_mols]
        used_id_col = id_col or "name"
    else:
        if suffix in SMI_SUFFIXES:
            frame, rows = _read_smi(path)
            used_smiles_col = "smiles"
            if smiles_col is not None and smiles_col != "smiles":
                raise InvalidInputError("smiles_col does not apply to .smi files")
            used_id_col = id_col or "name"
        else:
            frame = _read_table_file(path)
            rows = list(range(1, len(frame) + 1))
            used_smiles_col = smiles_col or find_smiles_column(list(frame.columns))
            if used_smiles_col is None or used_smiles_col not in frame.columns:
                what = (
                    f"column {smiles_col!r}"
                    if smiles_col
                    else f"SMILES column (looked for {', '.join(SMILES_COLUMN_NAMES[:3])}, ...)"
                )
                raise SchemaError(
                    f"{str(path)!r} has no {what}; its columns are {list(frame.columns)}; "
                    "name the SMILES column with smiles_col (CLI: --smiles-col)"
                )
            used_id_col = id_col or find_id_column(list(frame.columns), used_smiles_col) or ""
        raw = frame[used_smiles_col]
        inputs = ["" if pd.isna(v) else str(v).strip() for v in raw]
        frame = frame.drop(columns=[used_smiles_col])
    if used_id_col and used_id_col not in frame.columns:
        if id_col is not None:
            raise SchemaError(
                f"id column {id_col!r} not found; the file has columns {list(frame.columns)}"
            )
        used_id_col = ""
    ids_all = (
        [_id_text(v, r) for v, r in zip(frame[used_id_col], rows, strict=True)]
        if used_id_col
        else [str(r) for r in rows]
    )
    if label_cols is not None:
        _check_labels(frame, list(label_cols), rows)
    # fix the rejections' ids from SDF (record titles) or the id column
    if pre_mols is None:
        mols_opt, rej = parse_smiles(
            inputs, max_atoms=max_atoms, rows=rows, ids=ids_all, progress=progress
        )
        rejected = rej
    else:
        mols_opt = list(pre_mols)
        rejected = [
            Rejection(r.row, r.id if r.id is not None else str(r.row), r.input, r.reason)
            for r in rejected
        ]
    n = len(mols_opt)
    keep_pos: list[int] = []
    out_mols: list[Any] = []
    out_smiles: list[str] = []
    Chem = _chem()
    to_smiles = Chem.MolToSmiles
    with _rdbase().BlockLogs():
        for i, mol in enumerate(mols_opt):
            if mol is None:
                continue
            if standardize:
                try:
                    mol = standardize_mol(mol, tautomer=tautomer)
                except InvalidInputError as exc:
                    rejected.append(
                        Rejection(rows[i], ids_all[i], _input_of(inputs, i, rows), str(exc))
                    )
                    continue
                if mol.GetNumAtoms() == 0:
                    rejected.append(
                        Rejection(rows[i], ids_all[i], _input_of(inputs, i, rows),
                                  "standardisation left no atoms")
                    )  # fmt: skip
                    continue
            keep_pos.append(i)
            out_mols.append(mol)
            out_smiles.append(to_smiles(mol))
            if progress is not None and standardize and (i + 1) % _CHUNK == 0:
                progress("standardising", i + 1, n)
    if progress is not None and standardize:
        progress("standardising", n, n)
    rejected.sort(key=lambda r: r.row)

    added = ["row", "id", "smiles", "input_smiles"]
    props = _reserve(frame.drop(columns=[used_id_col]) if used_id_col else frame, added)
    kept = props.iloc[keep_pos].reset_index(drop=True)
    kept_rows = [rows[i] for i in keep_pos]
    kept_ids = [ids_all[i] for i in keep_pos]
    head = pd.DataFrame(
        {
            "row": kept_rows,
            "id": kept_ids,
            "smiles": out_smiles,
            "input_smiles": [_input_of(inputs, i, rows) for i in keep_pos],
        }
    )
    table = pd.concat([head, kept], axis=1)

    groups: dict[str, list[int]] = {}
    for j, smi in enumerate(out_smiles):
        groups.setdefault(smi, []).append(j)
    dup_groups = [g for g in groups.values() if len(g) > 1]
    duplicates = [
        Duplicate(
            smiles=out_smiles[g[0]],
            rows=tuple(kept_rows[j] for j in g),
            ids=tuple(kept_ids[j] for j in g),
        )
        for g in dup_groups
    ]
    if label_cols is not None:
        labels = [c for c in label_cols if c in table.columns]
    else:
        labels = [
            c
            for c in kept.columns
            if pd.api.types.is_numeric_dtype(kept[c]) and not pd.api.types.is_bool_dtype(kept[c])
        ]
    if dedupe != "keep":
        firsts = [g[0] for g in groups.values()]
        if dedupe == "merge":
            table = _merge(table, out_smiles, firsts, labels, explicit=label_cols is not None)
        else:
            table = table.iloc[firsts].reset_index(drop=True)
        out_mols = [out_mols[j] for j in firsts]
    return MolTable(
        ids=[str(v) for v in table["id"]],
        smiles=[str(v) for v in table["smiles"]],
        mols=out_mols,
        frame=table,
        rejected=rejected,
        duplicates=duplicates,
        rows=[int(v) for v in table["row"]],
        source=str(path),
        smiles_col=used_smiles_col,
        id_col=used_id_col or None,
        label_cols=list(labels),
        dedupe=dedupe,
    )


def _input_of(inputs: list[str], i: int, rows: Sequence[int]) -> str:
    return inputs[i] if i < len(inputs) else f"SDF record {rows[i]}"


def _merge(
    table: pd.DataFrame, keys: list[str], firsts: list[int], labels: list[str], explicit: bool
) -> pd.DataFrame:
    """One row per canonical SMILES: label means or majority classes (with ``_std``/``_n``),
    the first row otherwise."""
    base = table.iloc[firsts].reset_index(drop=True)
    grouped = table.groupby(pd.Series(keys, name="_key"), sort=False)
    base.insert(4, "n_rows", grouped.size().to_numpy())
    if labels:
        values = table[labels].astype(np.float64)
        g = values.groupby(pd.Series(keys, name="_key"), sort=False)
        means = g.mean()
        for col in labels:
            merged = means[col].to_numpy()
            present = values[col].dropna()
            if len(present) and present.isin((0.0, 1.0)).all():  # a class label: majority vote
                merged = np.where(merged > 0.5, 1.0, np.where(merged < 0.5, 0.0, np.nan))
                merged[np.isnan(means[col].to_numpy())] = np.nan
            base[col] = merged
        if explicit:
            stds = g.std(ddof=1)
            counts = g.count()
            for col in labels:
                base[f"{col}_std"] = stds[col].to_numpy()
                base[f"{col}_n"] = counts[col].to_numpy()
    return base
