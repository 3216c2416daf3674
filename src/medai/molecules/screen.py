"""Similarity screening and model scoring of large molecule libraries, in bounded memory.

Fingerprints are Morgan bits (radius 2, 2048 bits by default) packed into ``uint64`` words,
shape (n, n_bits / 64); the Tanimoto similarity of a query with every row is a vectorised
popcount (``numpy.bitwise_count``, a lookup table on older numpy), done in chunks so that the
temporaries stay small. One query against 1,000,000 packed fingerprints takes a fraction of a
second.

Two ways to screen:

- :class:`FingerprintIndex` holds a library's packed fingerprints in memory (256 bytes per
  molecule at 2048 bits), built from SMILES in batches, saved and loaded as ``.npz`` (no
  pickles), searched with :meth:`FingerprintIndex.search`.
- :func:`screen_file` streams a CSV/TSV/``.smi``/Parquet file (``.gz`` too) in batches,
  fingerprints each batch in a process pool and keeps a running top-k (and/or threshold hits)
  per query: memory is bounded by the batch size, not by the file.

:func:`score_file` streams a library through any ``predict(smiles) -> DataFrame`` callable (a
molecule model bundle's ``predict``) and writes a CSV incrementally, renamed into place at the
end.

Ties in similarity are broken by file row (earlier first), so results do not depend on the
batch size or the number of processes. Rows that do not parse become
:class:`~medai.molecules.io.Rejection` records with their row numbers (1-based data rows, as in
:func:`~medai.molecules.io.read_molecules`).
"""

from __future__ import annotations

import gzip
import io
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from medai.core.errors import DataFileError, InvalidInputError, SchemaError, require
from medai.molecules.io import (
    SMILES_COLUMN_NAMES,
    Rejection,
    find_smiles_column,
    parse_smiles,
)

if TYPE_CHECKING:
    from rdkit.Chem import Mol

__all__ = [
    "FingerprintIndex",
    "ScoreResult",
    "ScreenResult",
    "pack_fingerprints",
    "popcount",
    "score_file",
    "screen_file",
    "tanimoto",
]

Progress = Callable[[str, int, int], None]
Predict = Callable[[list[str]], pd.DataFrame]

#: Rows per vectorised Tanimoto step (keeps the ``lib & query`` temporary at ~16 MB).
_TANIMOTO_CHUNK = 65_536
_ID_NAMES = ("id", "mol_id", "molecule_id", "compound_id", "compound id", "chembl_id",
             "molecule_chembl_id", "cid", "name", "compound", "title")  # fmt: skip
_STREAM_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".smi",
                    ".smiles", ".ism", ".smi.gz", ".parquet", ".pq")  # fmt: skip
_RESULT_COLUMNS = ["query", "rank", "id", "smiles", "similarity", "row"]
_PACK_BLOCK = 1024
_POPCOUNT_TABLE = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


# --- packed fingerprints and Tanimoto ------------------------------------------------------------
def _check_fp_params(radius: int, n_bits: int) -> None:
    if not isinstance(radius, int) or not 0 <= radius <= 10:
        raise InvalidInputError(f"Morgan radius must be an integer 0-10, got {radius!r}")
    if not isinstance(n_bits, int) or n_bits < 64 or n_bits % 64:
        raise InvalidInputError(
            f"n_bits must be a positive multiple of 64 (e.g. 1024, 2048), got {n_bits!r}"
        )


def _generator(radius: int, n_bits: int) -> Any:
    from medai.molecules.features import _morgan_generator

    return _morgan_generator(radius, n_bits, False, False)


def _pack(bits: np.ndarray) -> np.ndarray:
    """(n, n_bits) 0/1 uint8 -> (n, n_bits / 64) uint64 (bit i of the fingerprint is bit i)."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def popcount(packed: np.ndarray) -> np.ndarray:
    """Number of set bits per row.

    Parameters
    ----------
    packed : numpy.ndarray, shape (n, w) or (w,), uint64

    Returns
    -------
    numpy.ndarray, shape (n,) int32 (or a 0-d int32 for a single row)
    """
    if hasattr(np, "bitwise_count"):
        counts = np.bitwise_count(packed)
    else:  # numpy < 2.0
        as_bytes = packed.view(np.uint8).reshape(*packed.shape[:-1], packed.shape[-1] * 8)
        counts = _POPCOUNT_TABLE[as_bytes]
    return np.asarray(counts.sum(axis=-1, dtype=np.int32))


def pack_fingerprints(mols: Sequence[Mol], *, radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Morgan bit fingerprints of molecules, packed into 64-bit words.

    Parameters
    ----------
    mols : sequence of rdkit.Chem.Mol, length n
    radius : int
        Morgan radius (2 gives ECFP4).
    n_bits : int
        Fingerprint length, a multiple of 64.

    Returns
    -------
    numpy.ndarray, shape (n, n_bits / 64), uint64
        Bit ``i`` of ``GetMorganGenerator(radius, fpSize=n_bits)`` is bit ``i % 64`` of word
        ``i // 64``.
    """
    _check_fp_params(radius, n_bits)
    if any(m is None for m in mols):
        raise InvalidInputError("pack_fingerprints got None; pass parsed molecules only")
    gen = _generator(radius, n_bits)
    bits = np.zeros((len(mols), n_bits), dtype=np.uint8)
    for i, mol in enumerate(mols):
        bits[i] = gen.GetFingerprintAsNumPy(mol)
    return _pack(bits)


def tanimoto(
    query: np.ndarray,
    library: np.ndarray,
    *,
    library_counts: np.ndarray | None = None,
    chunk: int = _TANIMOTO_CHUNK,
) -> np.ndarray:
    """Tanimoto similarity of one packed fingerprint with every row of a packed library.

    Parameters
    ----------
    query : numpy.ndarray, shape (w,), uint64
        One packed fingerprint.
    library : numpy.ndarray, shape (n, w), uint64
        Packed fingerprints.
    library_counts : numpy.ndarray, shape (n,), optional
        ``popcount(library)`` if already known (saves about a third of the time).
    chunk : int
        Rows per vectorised step.

    Returns
    -------
    numpy.ndarray, shape (n,), float32
        ``|q & x| / |q | x|``; 0 where both fingerprints are empty (as RDKit).
    """
    query = np.asarray(query)
    library = np.asarray(library)
    if query.ndim != 1 or library.ndim != 2 or library.shape[1] != query.shape[0]:
        raise InvalidInputError(
            f"tanimoto needs a query of shape (w,) and a library of shape (n, w); got "
            f"{query.shape} and {library.shape}"
        )
    if query.dtype != np.uint64 or library.dtype != np.uint64:
        raise InvalidInputError(
            f"tanimoto needs uint64 packed fingerprints, got {query.dtype} and {library.dtype}"
        )
    n = library.shape[0]
    q_count = int(popcount(query))
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, chunk):
        block = library[start : start + chunk]
        inter = popcount(block & query)
        counts = (
            popcount(block)
            if library_counts is None
            else np.asarray(library_counts[start : start + chunk], dtype=np.int32)
        )
        union = counts + (q_count - inter)
        np.divide(inter, np.maximum(union, 1), out=out[start : start + chunk], casting="unsafe")
    return out


# --- fingerprinting batches (runs in worker processes: top-level, picklable) ------------------
@dataclass(frozen=True)
class _Batch:
    """A slice of the library: file rows, ids and SMILES as given."""

    rows: list[int]
    ids: list[str]
    smiles: list[str]


@dataclass(frozen=True)
class _Fingerprinted:
    """Packed fingerprints of a batch's parsable rows and the rejections of the others."""

    fps: np.ndarray  # (m, w) uint64
    counts: np.ndarray  # (m,) int32
    kept: np.ndarray  # (m,) int64 positions in the batch
    rejected: list[Rejection]


def _fingerprint_batch(
    batch: _Batch, radius: int, n_bits: int, max_atoms: int | None
) -> _Fingerprinted:
    """Parse and fingerprint one batch (a top-level function, safe for 'spawn' pools)."""
    chem = require("rdkit.Chem", "molecules")
    rdbase = require("rdkit.rdBase", "molecules")
    gen = _generator(radius, n_bits)
    n = len(batch.smiles)
    limit = max_atoms if max_atoms is not None else math.inf
    fps = np.zeros((n, n_bits // 64), dtype=np.uint64)
    bits = np.zeros((_PACK_BLOCK, n_bits), dtype=np.uint8)  # unpacked rows, packed per block
    kept: list[int] = []
    bad: list[int] = []
    b = 0
    with rdbase.BlockLogs():
        for i, text in enumerate(batch.smiles):
            try:
                mol = chem.MolFromSmiles(text)
            except Exception:  # not a string
                mol = None
            if mol is None or not 0 < mol.GetNumAtoms() <= limit:
                bad.append(i)
                continue
            bits[b] = gen.GetFingerprintAsNumPy(mol)
            kept.append(i)
            b += 1
            if b == _PACK_BLOCK:
                fps[len(kept) - b : len(kept)] = _pack(bits)
                b = 0
    if b:
        fps[len(kept) - b : len(kept)] = _pack(bits[:b])
    rejected: list[Rejection] = []
    if bad:  # parse again only the failures, for the reasons
        _, rejected = parse_smiles(
            [batch.smiles[i] for i in bad],
            max_atoms=max_atoms,
            rows=[batch.rows[i] for i in bad],
            ids=[batch.ids[i] for i in bad],
        )
    fps = fps[: len(kept)].copy() if len(kept) < n else fps
    return _Fingerprinted(fps, popcount(fps), np.asarray(kept, dtype=np.int64), rejected)


def _fingerprint_task(args: tuple[_Batch, int, int, int | None]) -> _Fingerprinted:
    return _fingerprint_batch(*args)


def _split(batch: _Batch, parts: int) -> list[_Batch]:
    size = max(1, math.ceil(len(batch.rows) / max(parts, 1)))
    return [
        _Batch(batch.rows[s : s + size], batch.ids[s : s + size], batch.smiles[s : s + size])
        for s in range(0, len(batch.rows), size)
    ]


def _merge_parts(parts: list[_Fingerprinted], sizes: list[int], n_words: int) -> _Fingerprinted:
    offsets = np.cumsum([0, *sizes[:-1]])
    if not parts:
        return _Fingerprinted(
            np.zeros((0, n_words), np.uint64), np.zeros(0, np.int32), np.zeros(0, np.int64), []
        )
    return _Fingerprinted(
        np.concatenate([p.fps.reshape(-1, n_words) for p in parts]),
        np.concatenate([p.counts for p in parts]).astype(np.int32, copy=False),
        np.concatenate([p.kept + off for p, off in zip(parts, offsets, strict=True)]),
        [r for p in parts for r in p.rejected],
    )


def _fingerprint_stream(
    batches: Iterable[_Batch],
    *,
    radius: int,
    n_bits: int,
    max_atoms: int | None,
    processes: int,
) -> Iterator[tuple[_Batch, _Fingerprinted]]:
    """Fingerprint batches in order, at most two batches in flight (bounded memory)."""
    n_words = n_bits // 64
    if processes <= 1:
        for batch in batches:
            yield batch, _fingerprint_batch(batch, radius, n_bits, max_atoms)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        pending: deque[tuple[_Batch, list[int], list[Any]]] = deque()
        for batch in batches:
            pieces = _split(batch, processes)
            jobs = [
                pool.apply_async(_fingerprint_task, ((p, radius, n_bits, max_atoms),))
                for p in pieces
            ]
            pending.append((batch, [len(p.rows) for p in pieces], jobs))
            if len(pending) >= 2:
                done, sizes, ready = pending.popleft()
                yield done, _merge_parts([j.get() for j in ready], sizes, n_words)
        while pending:
            done, sizes, ready = pending.popleft()
            yield done, _merge_parts([j.get() for j in ready], sizes, n_words)


# --- running top-k per query ---------------------------------------------------------------------
class _TopHits:
    """Best hits per query, merged batch by batch; ties broken by row (earlier first)."""

    def __init__(self, n_queries: int, k: int | None, threshold: float | None) -> None:
        self.k = k
        self.threshold = threshold
        self.sims = [np.zeros(0, np.float32) for _ in range(n_queries)]
        self.rows = [np.zeros(0, np.int64) for _ in range(n_queries)]
        self.ids: list[list[str]] = [[] for _ in range(n_queries)]
        self.smiles: list[list[str]] = [[] for _ in range(n_queries)]

    def _select(self, sims: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Positions of the hits to keep, best first."""
        cand = np.arange(len(sims))
        if self.threshold is not None:
            cand = cand[sims >= np.float32(self.threshold)]
        if self.k is not None and len(cand) > self.k:
            kth = -np.partition(-sims[cand], self.k - 1)[self.k - 1]
            cand = cand[sims[cand] >= kth]  # all ties at the boundary; sorted below
        order = np.lexsort((rows[cand], -sims[cand]))
        cand = cand[order]
        return cand if self.k is None else cand[: self.k]

    def add(
        self, q: int, sims: np.ndarray, rows: np.ndarray, ids: Sequence[str], smiles: Sequence[str]
    ) -> None:
        pick = self._select(sims, rows)
        if not len(pick) and self.k is not None:
            return
        all_sims = np.concatenate([self.sims[q], sims[pick]])
        all_rows = np.concatenate([self.rows[q], rows[pick]])
        all_ids = self.ids[q] + [ids[i] for i in pick]
        all_smiles = self.smiles[q] + [smiles[i] for i in pick]
        keep = self._select(all_sims, all_rows)
        self.sims[q], self.rows[q] = all_sims[keep], all_rows[keep]
        self.ids[q] = [all_ids[i] for i in keep]
        self.smiles[q] = [all_smiles[i] for i in keep]

    def frame(self, names: Sequence[str]) -> pd.DataFrame:
        parts = []
        for q, name in enumerate(names):
            n = len(self.sims[q])
            parts.append(
                pd.DataFrame(
                    {
                        "query": [name] * n,
                        "rank": np.arange(1, n + 1, dtype=np.int64),
                        "id": self.ids[q],
                        "smiles": self.smiles[q],
                        "similarity": self.sims[q].astype(np.float32),
                        "row": self.rows[q],
                    }
                )
            )
        if not parts:
            return pd.DataFrame({c: [] for c in _RESULT_COLUMNS})
        return pd.concat(parts, ignore_index=True)[_RESULT_COLUMNS]


def _check_search(k: int | None, threshold: float | None) -> None:
    if k is None and threshold is None:
        raise InvalidInputError("give k (top hits per query), a threshold, or both")
    if k is not None and (not isinstance(k, int) or k < 1):
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InvalidInputError(f"threshold must be between 0 and 1, got {threshold!r}")


def _query_fps(
    queries: str | Mol | Sequence[str | Mol] | dict[str, str], radius: int, n_bits: int
) -> tuple[list[str], np.ndarray]:
    """Names and packed fingerprints (q, w) of the queries; a bad query raises, named."""
    chem = require("rdkit.Chem", "molecules")
    if isinstance(queries, dict):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in queries.items()]
    else:
        seq = (
            [queries] if isinstance(queries, str) or not isinstance(queries, Sequence) else queries
        )
        items = [(q if isinstance(q, str) else chem.MolToSmiles(q), q) for q in seq]
    if not items:
        raise InvalidInputError("no query molecules given; pass at least one SMILES")
    mols: list[Any] = []
    for name, q in items:
        if isinstance(q, str):
            parsed, bad = parse_smiles([q.strip()])
            if bad:
                raise InvalidInputError(
                    f"query {name!r} is not a valid molecule ({bad[0].reason}); "
                    "give a valid SMILES, e.g. 'CC(=O)Oc1ccccc1C(=O)O'"
                )
            mols.append(parsed[0])
        elif q is None:
            raise InvalidInputError(f"query {name!r} is None; pass SMILES or parsed molecules")
        else:
            mols.append(q)
    return [n for n, _ in items], pack_fingerprints(mols, radius=radius, n_bits=n_bits)


# --- in-memory index -----------------------------------------------------------------------------
@dataclass
class FingerprintIndex:
    """Packed Morgan fingerprints of a library, held in memory for fast similarity search.

    Attributes
    ----------
    fps : numpy.ndarray, shape (n, n_bits / 64), uint64
        Packed fingerprints.
    counts : numpy.ndarray, shape (n,), int32
        Bits set per fingerprint.
    ids : list of str, length n
    smiles : list of str, length n
        SMILES as given.
    rows : numpy.ndarray, shape (n,), int64
        1-based input row of each fingerprint.
    radius, n_bits : int
        Morgan parameters.
    rejected : list of Rejection
        Input rows that did not parse (not saved by :meth:`save`).
    """

    fps: np.ndarray
    counts: np.ndarray
    ids: list[str]
    smiles: list[str]
    rows: np.ndarray
    radius: int = 2
    n_bits: int = 2048
    rejected: list[Rejection] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.fps.shape[0])

    @classmethod
    def from_smiles(
        cls,
        smiles: Iterable[str],
        ids: Iterable[str] | None = None,
        *,
        radius: int = 2,
        n_bits: int = 2048,
        batch_size: int = 50_000,
        max_atoms: int | None = 1000,
        progress: Progress | None = None,
    ) -> FingerprintIndex:
        """Build an index from SMILES, consumed in batches (an iterator is never listed whole).

        Parameters
        ----------
        smiles : iterable of str, length n
        ids : iterable of str, length n, optional
            Default: the 1-based position as text.
        radius, n_bits : int
            Morgan parameters (``n_bits`` a multiple of 64).
        batch_size : int
            SMILES parsed per batch (peak memory is one batch of molecules plus the index).
        max_atoms : int or None
            Larger molecules are rejected.
        progress : callable(step, done, total), optional

        Returns
        -------
        FingerprintIndex
            Rows that do not parse are in :attr:`rejected` with their 1-based positions.
        """
        _check_fp_params(radius, n_bits)
        _check_batch(batch_size)
        id_iter = iter(ids) if ids is not None else None

        def batches() -> Iterator[_Batch]:
            buf = _Batch([], [], [])
            for pos, smi in enumerate(smiles, start=1):
                rid = str(next(id_iter)) if id_iter is not None else str(pos)
                buf.rows.append(pos)
                buf.ids.append(rid)
                buf.smiles.append(smi if isinstance(smi, str) else "")
                if len(buf.rows) >= batch_size:
                    yield buf
                    buf = _Batch([], [], [])
            if buf.rows:
                yield buf

        return cls._build(batches(), radius, n_bits, max_atoms, 1, progress)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        smiles_col: str | None = None,
        id_col: str | None = None,
        radius: int = 2,
        n_bits: int = 2048,
        batch_size: int = 50_000,
        processes: int | None = None,
        max_atoms: int | None = 1000,
        progress: Progress | None = None,
    ) -> FingerprintIndex:
        """Build an index from a CSV/TSV/``.smi``/Parquet file read in batches.

        Parameters are as for :func:`screen_file`; ids come from the id column (default: the
        row number).
        """
        _check_fp_params(radius, n_bits)
        _check_batch(batch_size)
        batches = iter_library(path, batch_size=batch_size, smiles_col=smiles_col, id_col=id_col)
        return cls._build(batches, radius, n_bits, max_atoms, _processes(processes), progress)

    @classmethod
    def _build(
        cls,
        batches: Iterable[_Batch],
        radius: int,
        n_bits: int,
        max_atoms: int | None,
        processes: int,
        progress: Progress | None,
    ) -> FingerprintIndex:
        fps: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        ids: list[str] = []
        smiles: list[str] = []
        rows: list[np.ndarray] = []
        rejected: list[Rejection] = []
        done = 0
        stream = _fingerprint_stream(
            batches, radius=radius, n_bits=n_bits, max_atoms=max_atoms, processes=processes
        )
        for batch, fp in stream:
            fps.append(fp.fps)
            counts.append(fp.counts)
            ids += [batch.ids[i] for i in fp.kept]
            smiles += [batch.smiles[i] for i in fp.kept]
            rows.append(np.asarray(batch.rows, dtype=np.int64)[fp.kept])
            rejected += fp.rejected
            done += len(batch.rows)
            if progress is not None:
                progress("fingerprinting", done, done)
        w = n_bits // 64
        return cls(
            fps=np.concatenate(fps) if fps else np.zeros((0, w), np.uint64),
            counts=np.concatenate(counts) if counts else np.zeros(0, np.int32),
            ids=ids,
            smiles=smiles,
            rows=np.concatenate(rows) if rows else np.zeros(0, np.int64),
            radius=radius,
            n_bits=n_bits,
            rejected=rejected,
        )

    def search(
        self,
        queries: str | Mol | Sequence[str | Mol] | dict[str, str],
        k: int | None = 10,
        threshold: float | None = None,
    ) -> pd.DataFrame:
        """Most similar library molecules per query (Tanimoto on the packed fingerprints).

        Parameters
        ----------
        queries : str, rdkit.Chem.Mol, sequence of them, or dict name -> SMILES
            A SMILES query is named by itself in the result.
        k : int or None
            Hits per query (``None``: every hit at or above ``threshold``).
        threshold : float, optional
            Keep only hits with similarity at least this.

        Returns
        -------
        pandas.DataFrame, shape (n_hits, 6)
            ``query``, ``rank`` (1 = best), ``id``, ``smiles``, ``similarity`` (float32),
            ``row``; best first per query, ties by row.

        Raises
        ------
        InvalidInputError
            A query that does not parse (named), or bad ``k``/``threshold``.
        """
        _check_search(k, threshold)
        names, qfps = _query_fps(queries, self.radius, self.n_bits)
        hits = _TopHits(len(names), k, threshold)
        for q in range(len(names)):
            sims = tanimoto(qfps[q], self.fps, library_counts=self.counts)
            hits.add(q, sims, self.rows, self.ids, self.smiles)
        return hits.frame(names)

    def save(self, path: str | Path) -> Path:
        """Save as ``.npz`` (no pickled objects), atomically; returns the path written."""
        path = Path(path)
        if path.suffix.lower() != ".npz":
            raise InvalidInputError(f"index file {str(path)!r} must end in .npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.npz")
        try:
            np.savez(
                tmp,
                fps=self.fps,
                counts=self.counts,
                ids=np.asarray(self.ids, dtype=str),
                smiles=np.asarray(self.smiles, dtype=str),
                rows=self.rows,
                params=np.asarray([self.radius, self.n_bits], dtype=np.int64),
            )
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FingerprintIndex:
        """Load an index written by :meth:`save` (``allow_pickle=False``)."""
        path = Path(path)
        if not path.is_file():
            raise DataFileError(f"index file {str(path)!r} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                radius, n_bits = (int(v) for v in data["params"])
                fps = data["fps"]
                index = cls(
                    fps=fps,
                    counts=data["counts"],
                    ids=[str(v) for v in data["ids"]] if len(fps) else [],
                    smiles=[str(v) for v in data["smiles"]] if len(fps) else [],
                    rows=data["rows"],
                    radius=radius,
                    n_bits=n_bits,
                )
        except (KeyError, ValueError, OSError) as exc:
            raise DataFileError(
                f"{str(path)!r} is not a medai fingerprint index ({exc}); "
                "build one with FingerprintIndex.save"
            ) from None
        if fps.dtype != np.uint64 or fps.shape[1:] != (n_bits // 64,):
            raise DataFileError(f"{str(path)!r} holds fingerprints of the wrong shape/type")
        return index


# --- streaming a library file --------------------------------------------------------------------
def _check_batch(batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}")


def _processes(processes: int | None) -> int:
    if processes is None:
        return os.cpu_count() or 1
    if not isinstance(processes, int) or processes < 1:
        raise InvalidInputError(f"processes must be a positive integer, got {processes!r}")
    return processes


def _stream_suffix(path: Path) -> str:
    name = path.name.lower()
    for suf in sorted(_STREAM_SUFFIXES, key=len, reverse=True):
        if name.endswith(suf):
            return suf
    if name.endswith((".sdf", ".sd", ".sdf.gz")):
        raise DataFileError(
            f"{str(path)!r} is an SDF file; screening streams tables and .smi files: convert it "
            "(e.g. medai mol filter ... --out table.csv) or use read_molecules + FingerprintIndex"
        )
    raise DataFileError(
        f"{str(path)!r} has an unknown type; expected one of {', '.join(_STREAM_SUFFIXES)}"
    )


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _id_or_row(value: Any, row: int) -> str:
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return text.strip() or str(row)


def _iter_smi(path: Path, batch_size: int) -> Iterator[_Batch]:
    with _open_text(path) as fh:
        batch = _Batch([], [], [])
        lineno = 0
        for i, line in enumerate(fh):
            parts = line.strip().split(None, 1)
            if i == 0 and parts and parts[0].lower() in SMILES_COLUMN_NAMES:
                continue  # header line, not counted
            lineno += 1
            if not parts:
                continue
            batch.rows.append(lineno)
            batch.smiles.append(parts[0])
            batch.ids.append(_id_or_row(parts[1] if len(parts) > 1 else None, lineno))
            if len(batch.rows) >= batch_size:
                yield batch
                batch = _Batch([], [], [])
        if batch.rows:
            yield batch


def _resolve_columns(
    path: Path, columns: list[str], smiles_col: str | None, id_col: str | None
) -> tuple[str, str | None]:
    smi = smiles_col or find_smiles_column(columns)
    if smi is None or smi not in columns:
        what = f"column {smiles_col!r}" if smiles_col else "SMILES column (looked for smiles, ...)"
        raise SchemaError(
            f"{str(path)!r} has no {what}; its columns are {columns}; "
            "name the SMILES column with smiles_col (CLI: --smiles-col)"
        )
    if id_col is not None:
        if id_col not in columns:
            raise SchemaError(f"id column {id_col!r} not found; {str(path)!r} has {columns}")
        return smi, id_col
    lower = {c.strip().lower(): c for c in columns if c != smi}
    return smi, next((lower[n] for n in _ID_NAMES if n in lower), None)


def _iter_table(
    path: Path, batch_size: int, smiles_col: str | None, id_col: str | None
) -> Iterator[_Batch]:
    with _open_text(path) as fh:
        first = fh.readline()
    if not first.strip():
        raise DataFileError(f"{str(path)!r} has no header line; expected a table with a header")
    tsv = ".tsv" in path.name.lower() or first.count("\t") > first.count(",")
    sep = "\t" if tsv else ","
    header = [c.strip() for c in first.rstrip("\r\n").split(sep)]
    smi, rid = _resolve_columns(path, header, smiles_col, id_col)
    raw_cols = [c for c in first.rstrip("\r\n").split(sep)]
    use = [raw_cols[header.index(smi)]] + ([raw_cols[header.index(rid)]] if rid else [])

    def gen() -> Iterator[_Batch]:
        row = 0
        try:
            reader = pd.read_csv(
                path, sep=sep, usecols=use, dtype=str, keep_default_na=False,
                chunksize=batch_size, encoding="utf-8-sig", skip_blank_lines=True,
            )  # fmt: skip
            with reader:
                for chunk in reader:
                    n = len(chunk)
                    rows = list(range(row + 1, row + n + 1))
                    row += n
                    smiles = [s.strip() for s in chunk[use[0]].tolist()]
                    ids = (
                        [_id_or_row(v, r) for v, r in zip(chunk[use[1]], rows, strict=True)]
                        if rid
                        else [str(r) for r in rows]
                    )
                    yield _Batch(rows, ids, smiles)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataFileError(
                f"{str(path)!r} could not be read after data row {row}: {exc}"
            ) from None

    return gen()


def _iter_parquet(
    path: Path, batch_size: int, smiles_col: str | None, id_col: str | None
) -> Iterator[_Batch]:
    pq = require("pyarrow.parquet", "risk")
    pf = pq.ParquetFile(path)
    smi, rid = _resolve_columns(path, list(pf.schema_arrow.names), smiles_col, id_col)

    def gen() -> Iterator[_Batch]:
        row = 0
        for rb in pf.iter_batches(batch_size=batch_size, columns=[smi] + ([rid] if rid else [])):
            frame = rb.to_pandas()
            rows = list(range(row + 1, row + len(frame) + 1))
            row += len(frame)
            smiles = ["" if v is None else str(v).strip() for v in frame[smi]]
            ids = (
                [_id_or_row(v, r) for v, r in zip(frame[rid], rows, strict=True)]
                if rid
                else [str(r) for r in rows]
            )
            yield _Batch(rows, ids, smiles)

    return gen()


def iter_library(
    path: str | Path,
    *,
    batch_size: int = 50_000,
    smiles_col: str | None = None,
    id_col: str | None = None,
) -> Iterator[_Batch]:
    """Batches of (rows, ids, SMILES) read lazily from a library file.

    Column problems raise here, before any batch is read.
    """
    path = Path(path)
    _check_batch(batch_size)
    if not path.exists():
        raise DataFileError(f"library file {str(path)!r} does not exist; check the path")
    if path.is_dir() or path.stat().st_size == 0:
        raise DataFileError(f"library {str(path)!r} is a folder or an empty file")
    suffix = _stream_suffix(path)
    if suffix in (".smi", ".smiles", ".ism", ".smi.gz"):
        if smiles_col not in (None, "smiles"):
            raise InvalidInputError("smiles_col does not apply to .smi files")
        return _iter_smi(path, batch_size)
    if suffix in (".parquet", ".pq"):
        return _iter_parquet(path, batch_size, smiles_col, id_col)
    return _iter_table(path, batch_size, smiles_col, id_col)


@dataclass
class ScreenResult:
    """What :func:`screen_file` found.

    Attributes
    ----------
    hits : pandas.DataFrame
        ``query``, ``rank``, ``id``, ``smiles``, ``similarity``, ``row`` (best first per query).
    rejected : list of Rejection
        Library rows that did not parse, with their rows and reasons, in file order.
    n_rows : int
        Data rows read.
    n_screened : int
        Rows fingerprinted and compared.
    """

    hits: pd.DataFrame
    rejected: list[Rejection]
    n_rows: int
    n_screened: int


def screen_file(
    library_path: str | Path,
    queries: str | Mol | Sequence[str | Mol] | dict[str, str],
    *,
    k: int | None = 10,
    threshold: float | None = None,
    batch_size: int = 50_000,
    processes: int | None = None,
    smiles_col: str | None = None,
    id_col: str | None = None,
    radius: int = 2,
    n_bits: int = 2048,
    max_atoms: int | None = 1000,
    progress: Progress | None = None,
) -> ScreenResult:
    """Similarity-screen a library file against queries, streaming it in batches.

    Each batch of ``batch_size`` rows is split over ``processes`` worker processes
    ('spawn' pool), fingerprinted, compared with every query and folded into a running top-k
    per query; at most two batches are in flight, so memory is bounded by the batch size.

    Parameters
    ----------
    library_path : str or Path
        CSV/TSV/TXT (``.gz`` too) with a SMILES column, ``.smi`` (``SMILES [name]`` lines) or
        Parquet.
    queries : str, rdkit.Chem.Mol, sequence of them, or dict name -> SMILES
    k : int or None
        Hits kept per query (``None``: every hit at or above ``threshold``).
    threshold : float, optional
        Minimum Tanimoto similarity of a hit.
    batch_size : int
        Rows read per batch.
    processes : int, optional
        Worker processes (default ``os.cpu_count()``; 1 runs in this process).
    smiles_col, id_col : str, optional
        Columns (defaults as in :func:`~medai.molecules.io.read_molecules`; id: row number).
    radius, n_bits : int
        Morgan parameters.
    max_atoms : int or None
        Larger molecules are rejected.
    progress : callable(step, done, total), optional
        Called after each batch with the rows done (the total is not known while streaming).

    Returns
    -------
    ScreenResult

    Raises
    ------
    InvalidInputError
        A query that does not parse (named), bad options; ``SchemaError`` for a missing
        SMILES/id column (the columns are listed); ``DataFileError`` for unreadable files.
    """
    _check_search(k, threshold)
    _check_fp_params(radius, n_bits)
    n_proc = _processes(processes)
    names, qfps = _query_fps(queries, radius, n_bits)
    batches = iter_library(
        library_path, batch_size=batch_size, smiles_col=smiles_col, id_col=id_col
    )
    hits = _TopHits(len(names), k, threshold)
    rejected: list[Rejection] = []
    n_rows = n_screened = 0
    stream = _fingerprint_stream(
        batches, radius=radius, n_bits=n_bits, max_atoms=max_atoms, processes=n_proc
    )
    for batch, fp in stream:
        rows = np.asarray(batch.rows, dtype=np.int64)[fp.kept]
        ids = [batch.ids[i] for i in fp.kept]
        smiles = [batch.smiles[i] for i in fp.kept]
        for q in range(len(names)):
            sims = tanimoto(qfps[q], fp.fps, library_counts=fp.counts)
            hits.add(q, sims, rows, ids, smiles)
        rejected += fp.rejected
        n_rows += len(batch.rows)
        n_screened += len(fp.kept)
        if progress is not None:
            progress("screening", n_rows, n_rows)
    rejected.sort(key=lambda r: r.row)
    return ScreenResult(hits.frame(names), rejected, n_rows, n_screened)


# --- scoring with a model ------------------------------------------------------------------------
@dataclass
class ScoreResult:
    """What :func:`score_file` wrote.

    Attributes
    ----------
    path : Path
        The CSV written: ``row``, ``id``, ``smiles``, then the predictor's columns.
    n_rows, n_scored : int
        Rows read, rows scored.
    rejected : list of Rejection
        Rows that did not parse (not passed to the predictor).
    """

    path: Path
    n_rows: int
    n_scored: int
    rejected: list[Rejection]


def score_file(
    library_path: str | Path,
    predict: Predict,
    *,
    out_path: str | Path,
    batch_size: int = 50_000,
    smiles_col: str | None = None,
    id_col: str | None = None,
    max_atoms: int | None = 1000,
    progress: Progress | None = None,
) -> ScoreResult:
    """Score a library with a model, batch by batch, writing a CSV incrementally.

    Parameters
    ----------
    library_path : str or Path
        As for :func:`screen_file`.
    predict : callable(list of str) -> pandas.DataFrame
        E.g. a molecule bundle's ``predict``; gets the parsable SMILES of one batch (as given)
        and returns one row per SMILES, in order.
    out_path : str or Path
        ``.csv`` to write; written to a temporary file in the same folder and renamed at the
        end (nothing is left behind on error).
    batch_size : int
        Rows per batch (and per ``predict`` call).
    smiles_col, id_col : str, optional
        As for :func:`screen_file`.
    max_atoms : int or None
        Larger molecules are rejected.
    progress : callable(step, done, total), optional

    Returns
    -------
    ScoreResult

    Raises
    ------
    InvalidInputError
        ``predict`` returned the wrong number of rows or not a DataFrame, bad options or
        columns.
    """
    out = Path(out_path)
    if out.suffix.lower() != ".csv":
        raise InvalidInputError(f"score output {str(out)!r} must end in .csv")
    batches = iter_library(
        library_path, batch_size=batch_size, smiles_col=smiles_col, id_col=id_col
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    rejected: list[Rejection] = []
    n_rows = n_scored = 0
    columns: list[str] | None = None
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            for batch in batches:
                mols, bad = parse_smiles(
                    batch.smiles, max_atoms=max_atoms, rows=batch.rows, ids=batch.ids
                )
                keep = [i for i, m in enumerate(mols) if m is not None]
                smiles = [batch.smiles[i] for i in keep]
                preds = predict(smiles) if smiles else None
                if smiles:
                    if not isinstance(preds, pd.DataFrame) or len(preds) != len(smiles):
                        got = len(preds) if isinstance(preds, pd.DataFrame) else type(preds)
                        raise InvalidInputError(
                            f"predict returned {got} for {len(smiles)} SMILES; expected a "
                            "DataFrame with one row per SMILES"
                        )
                    head = pd.DataFrame(
                        {
                            "row": [batch.rows[i] for i in keep],
                            "id": [batch.ids[i] for i in keep],
                            "smiles": smiles,
                        }
                    )
                    body = preds.reset_index(drop=True)
                    body.columns = [
                        f"{c}_pred" if c in ("row", "id", "smiles") else str(c)
                        for c in body.columns
                    ]
                    table = pd.concat([head, body], axis=1)
                    if columns is None:
                        columns = list(table.columns)
                        table.to_csv(fh, index=False)
                    else:
                        table.reindex(columns=columns).to_csv(fh, index=False, header=False)
                rejected += bad
                n_rows += len(batch.rows)
                n_scored += len(keep)
                if progress is not None:
                    progress("scoring", n_rows, n_rows)
            if columns is None:
                fh.write("row,id,smiles\n")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return ScoreResult(out, n_rows, n_scored, rejected)
