"""Molecule featurisers: fingerprints, RDKit 2D descriptors and graphs for message passing.

Vector featurisers (registry :data:`FEATURIZERS`, combined with ``+`` in :func:`featurize`):

============== ===================================================== ====================
name           what                                                  width
============== ===================================================== ====================
morgan         Morgan/ECFP bits (``radius=2``, ``n_bits=2048``)      ``n_bits``
morgan_counts  Morgan/ECFP counts (same parameters)                  ``n_bits``
maccs          MACCS keys (bit 0 is always 0, as in RDKit)           167
rdkit2d        every RDKit 2D descriptor (``Descriptors._descList``) 217 in RDKit 2026.09
============== ===================================================== ====================

Fingerprints come from :mod:`rdkit.Chem.rdFingerprintGenerator` generators created once per
parameter set and reused (``GetFingerprintAsNumPy`` / ``GetCountFingerprintAsNumPy``), so the
cost per molecule is RDKit's own.

Graphs (:func:`mol_graph`, :func:`batch_graphs`) follow chemprop's directed-bond layout for a
D-MPNN: every bond appears twice (``2k`` = begin→end, ``2k + 1`` = end→begin), and ``rev`` maps
a directed bond to its reverse.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medai.core.errors import InvalidInputError, require

if TYPE_CHECKING:
    from rdkit.Chem import Mol

    from medai.molecules.io import Rejection

__all__ = [
    "ATOM_FDIM",
    "ATOM_FEATURE_NAMES",
    "BOND_FDIM",
    "BOND_FEATURE_NAMES",
    "FEATURIZERS",
    "BatchGraph",
    "MolGraph",
    "batch_graphs",
    "descriptor_names",
    "feature_names",
    "featurize",
    "featurize_smiles",
    "maccs",
    "mol_graph",
    "mol_graphs",
    "morgan",
    "morgan_counts",
    "rdkit2d",
]

Progress = Callable[[str, int, int], None]
_CHUNK = 1024


def _chem() -> Any:
    return require("rdkit.Chem", "molecules")


@functools.lru_cache(maxsize=16)
def _morgan_generator(radius: int, n_bits: int, chirality: bool, features: bool) -> Any:
    G = require("rdkit.Chem.rdFingerprintGenerator", "molecules")
    kwargs: dict[str, Any] = {
        "radius": radius,
        "fpSize": n_bits,
        "includeChirality": chirality,
    }
    if features:
        kwargs["atomInvariantsGenerator"] = G.GetMorganFeatureAtomInvGen()
    return G.GetMorganGenerator(**kwargs)


def _check_morgan(radius: int, n_bits: int) -> None:
    if not isinstance(radius, int) or radius < 0 or radius > 10:
        raise InvalidInputError(f"Morgan radius must be an integer 0-10, got {radius!r}")
    if not isinstance(n_bits, int) or n_bits < 8:
        raise InvalidInputError(f"n_bits must be an integer of at least 8, got {n_bits!r}")


def _none_at(mols: Sequence[Any]) -> InvalidInputError:
    bad = [i for i, m in enumerate(mols) if m is None]
    where = f"mols[{bad[0]}] is None" if bad else "a molecule could not be featurised"
    return InvalidInputError(
        f"{where}; featurise only parsed molecules (read_molecules drops and reports bad rows)"
    )


@dataclass(frozen=True)
class _Rows:
    """How one featuriser turns a molecule into a row."""

    width: int
    dtype: Any  # natural type of a row (uint8 bits, uint32 counts, float64 descriptors)
    row: Callable[[Any], np.ndarray]  # mol -> (width,) array
    post: Callable[[np.ndarray], None] | None = None  # in place on a block of rows


def _morgan_rows(
    radius: int = 2,
    n_bits: int = 2048,
    chirality: bool = False,
    features: bool = False,
    counts: bool = False,
) -> _Rows:
    _check_morgan(radius, n_bits)
    gen = _morgan_generator(radius, n_bits, chirality, features)
    if counts:
        return _Rows(n_bits, np.uint32, gen.GetCountFingerprintAsNumPy)
    return _Rows(n_bits, np.uint8, gen.GetFingerprintAsNumPy)


def _maccs_rows() -> _Rows:
    rdMD = require("rdkit.Chem.rdMolDescriptors", "molecules")
    DataStructs = require("rdkit.DataStructs", "molecules")

    def row(mol: Any) -> np.ndarray:
        arr = np.zeros(167, dtype=np.uint8)
        DataStructs.ConvertToNumpyArray(rdMD.GetMACCSKeysFingerprint(mol), arr)
        return arr

    return _Rows(167, np.uint8, row)


def _rdkit2d_rows(nan_value: float = 0.0) -> _Rows:
    funcs = [fn for _, fn in _descriptor_list()]

    def row(mol: Any) -> np.ndarray:
        if mol is None:
            raise TypeError("None molecule")
        values = np.empty(len(funcs), dtype=np.float64)
        for j, fn in enumerate(funcs):
            try:
                values[j] = fn(mol)
            except Exception:  # RDKit fails on some descriptors for unusual molecules
                values[j] = math.nan
        return values

    def post(block: np.ndarray) -> None:
        block[~np.isfinite(block)] = nan_value
        np.clip(block, -_F32_MAX, _F32_MAX, out=block)

    return _Rows(len(funcs), np.float64, row, post)


def _fill(
    mols: Sequence[Mol],
    rows: _Rows,
    progress: Progress | None,
    step: str,
    out_dtype: Any = None,
) -> np.ndarray:
    """Rows of every molecule, chunk by chunk, cast into an (n, width) ``out_dtype`` array."""
    rdBase = require("rdkit.rdBase", "molecules")
    n = len(mols)
    out = np.zeros((n, rows.width), dtype=out_dtype or rows.dtype)
    buf = np.zeros((min(_CHUNK, n), rows.width), dtype=rows.dtype)
    row = rows.row
    try:
        with rdBase.BlockLogs():
            for start in range(0, n, _CHUNK):
                stop = min(start + _CHUNK, n)
                for j in range(stop - start):
                    buf[j] = row(mols[start + j])
                if rows.post is not None:
                    rows.post(buf[: stop - start])
                out[start:stop] = buf[: stop - start]
                if progress is not None:
                    progress(step, stop, n)
    except Exception as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise _none_at(mols) from exc
    return out


def morgan(
    mols: Sequence[Mol],
    *,
    radius: int = 2,
    n_bits: int = 2048,
    chirality: bool = False,
    features: bool = False,
    dtype: Any = np.uint8,
    progress: Progress | None = None,
) -> np.ndarray:
    """Morgan (ECFP-like) bit fingerprints.

    Parameters
    ----------
    mols : sequence of rdkit.Chem.Mol, length n
    radius : int
        2 gives ECFP4.
    n_bits : int
        Fingerprint length.
    chirality : bool
        Include chirality in the atom invariants.
    features : bool
        Pharmacophoric feature invariants (FCFP) instead of atom invariants (ECFP).
    dtype : numpy dtype
        Output type (the rows are cast chunk by chunk).

    Returns
    -------
    numpy.ndarray, shape (n, n_bits), ``dtype`` (uint8 by default)
        0/1 bits, equal to ``GetMorganGenerator(...).GetFingerprintAsNumPy(mol)``.
    """
    rows = _morgan_rows(radius, n_bits, chirality, features)
    return _fill(mols, rows, progress, "Morgan bits", dtype)


def morgan_counts(
    mols: Sequence[Mol],
    *,
    radius: int = 2,
    n_bits: int = 2048,
    chirality: bool = False,
    features: bool = False,
    dtype: Any = np.uint32,
    progress: Progress | None = None,
) -> np.ndarray:
    """Morgan (ECFP-like) count fingerprints (hashed, folded to ``n_bits``).

    Parameters are those of :func:`morgan`.

    Returns
    -------
    numpy.ndarray, shape (n, n_bits), ``dtype`` (uint32 by default)
        Counts, equal to ``GetMorganGenerator(...).GetCountFingerprintAsNumPy(mol)``.
    """
    rows = _morgan_rows(radius, n_bits, chirality, features, counts=True)
    return _fill(mols, rows, progress, "Morgan counts", dtype)


def maccs(
    mols: Sequence[Mol], *, dtype: Any = np.uint8, progress: Progress | None = None
) -> np.ndarray:
    """MACCS structural keys.

    Returns
    -------
    numpy.ndarray, shape (n, 167), ``dtype`` (uint8 by default)
        RDKit's 167-bit MACCS keys (bit 0 unused, always 0).
    """
    return _fill(mols, _maccs_rows(), progress, "MACCS keys", dtype)


@functools.cache
def _descriptor_list() -> tuple[tuple[str, Callable[[Any], float]], ...]:
    Descriptors = require("rdkit.Chem.Descriptors", "molecules")
    return tuple((str(name), fn) for name, fn in Descriptors._descList)


def descriptor_names() -> list[str]:
    """Names of the RDKit 2D descriptors, in the column order of :func:`rdkit2d`."""
    return [name for name, _ in _descriptor_list()]


_F32_MAX = float(np.finfo(np.float32).max)


def rdkit2d(
    mols: Sequence[Mol], *, nan_value: float = 0.0, progress: Progress | None = None
) -> np.ndarray:
    """All RDKit 2D descriptors (``rdkit.Chem.Descriptors._descList``).

    Parameters
    ----------
    mols : sequence of rdkit.Chem.Mol, length n
    nan_value : float
        Replaces a descriptor RDKit cannot compute (NaN, an exception) or an infinite value.

    Returns
    -------
    numpy.ndarray, shape (n, n_descriptors), float64
        Finite values, clipped to the float32 range; columns named by :func:`descriptor_names`.
    """
    return _fill(mols, _rdkit2d_rows(nan_value), progress, "RDKit descriptors")


#: Name -> featuriser ``f(mols, **params) -> (n, width) array``.
FEATURIZERS: dict[str, Callable[..., np.ndarray]] = {
    "morgan": morgan,
    "morgan_counts": morgan_counts,
    "maccs": maccs,
    "rdkit2d": rdkit2d,
}


_ROWS: dict[str, Callable[..., _Rows]] = {
    "morgan": _morgan_rows,
    "morgan_counts": functools.partial(_morgan_rows, counts=True),
    "maccs": _maccs_rows,
    "rdkit2d": _rdkit2d_rows,
}


def _parts(kind: str) -> list[str]:
    parts = [p.strip().lower() for p in kind.split("+") if p.strip()]
    unknown = [p for p in parts if p not in FEATURIZERS]
    if not parts or unknown:
        raise InvalidInputError(
            f"unknown featuriser {kind!r}; expected one of {', '.join(FEATURIZERS)} "
            "or a combination such as 'morgan+rdkit2d'"
        )
    return parts


def _params_for(name: str, params: dict[str, Any]) -> dict[str, Any]:
    accepted = inspect.signature(FEATURIZERS[name]).parameters
    return {k: v for k, v in params.items() if k in accepted}


def _check_params(parts: list[str], params: dict[str, Any]) -> None:
    accepted: set[str] = set()
    for p in parts:
        accepted |= set(inspect.signature(FEATURIZERS[p]).parameters) - {
            "mols",
            "progress",
            "dtype",
        }
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise InvalidInputError(
            f"featuriser {'+'.join(parts)!r} takes no parameter(s) {unknown}; "
            f"it takes {sorted(accepted) or 'none'}"
        )


def featurize(
    mols: Sequence[Mol],
    kind: str = "morgan",
    *,
    dtype: Any = np.float32,
    progress: Progress | None = None,
    **params: Any,
) -> np.ndarray:
    """Feature matrix for molecules.

    Parameters
    ----------
    mols : sequence of rdkit.Chem.Mol, length n
        Parsed molecules (no None).
    kind : str
        A name in :data:`FEATURIZERS` or several joined by ``+`` (``"morgan+rdkit2d"``):
        their columns are concatenated in that order.
    dtype : numpy dtype
        Output type; float32 by default (``np.uint8`` saves memory for bits).
    progress : callable(step, done, total), optional
    **params
        Passed to the featurisers that take them, e.g. ``radius=3, n_bits=1024`` for Morgan,
        ``nan_value`` for rdkit2d.

    Returns
    -------
    numpy.ndarray, shape (n, width), ``dtype``
        ``width`` is the sum of the parts' widths (Morgan: ``n_bits``, MACCS: 167, rdkit2d:
        ``len(descriptor_names())``); names from :func:`feature_names`.

    Raises
    ------
    InvalidInputError
        Unknown featuriser or parameter, or a None molecule (the message gives its index).
    """
    parts = _parts(kind)
    _check_params(parts, params)
    blocks = []
    for p in parts:
        kwargs = _params_for(p, params)
        if "dtype" in inspect.signature(FEATURIZERS[p]).parameters:
            kwargs["dtype"] = dtype  # cast chunk by chunk (no full-size intermediate)
        blocks.append(FEATURIZERS[p](mols, progress=progress, **kwargs))
    if len(blocks) == 1:
        return blocks[0].astype(dtype, copy=False)
    return np.concatenate([b.astype(dtype, copy=False) for b in blocks], axis=1)


def featurize_smiles(
    smiles: Sequence[str],
    kind: str = "morgan",
    *,
    dtype: Any = np.float32,
    max_atoms: int | None = 1000,
    progress: Progress | None = None,
    **params: Any,
) -> tuple[np.ndarray, np.ndarray, list[Rejection]]:
    """Parse SMILES and featurise them chunk by chunk, without keeping the molecules.

    The fast path for large libraries: each SMILES is parsed (no standardisation) and
    featurised at once, and rows are cast to ``dtype`` in blocks of 64, so the molecule is
    still in the CPU cache; failures get the reasons of
    :func:`~medai.molecules.io.parse_smiles`.

    Parameters
    ----------
    smiles : sequence of str, length n
    kind, dtype, **params
        As for :func:`featurize`.
    max_atoms : int or None
        Larger molecules are rejected.
    progress : callable(step, done, total), optional

    Returns
    -------
    X : numpy.ndarray, shape (n_kept, width), ``dtype``
        Features of the SMILES that parsed, in input order.
    kept : numpy.ndarray, shape (n_kept,), int64
        Position in ``smiles`` of each row of ``X``.
    rejections : list of Rejection
        The others, with 1-based positions as rows and the reason.
    """
    from medai.molecules.io import parse_smiles

    parts = _parts(kind)
    _check_params(parts, params)
    if max_atoms is not None and max_atoms < 1:
        raise InvalidInputError(f"max_atoms must be at least 1, got {max_atoms}")
    specs = [_ROWS[p](**_params_for(p, params)) for p in parts]
    bounds = np.cumsum([0] + [r.width for r in specs]).tolist()
    n = len(smiles)
    out = np.zeros((n, bounds[-1]), dtype=dtype)
    block = 64  # rows parsed, featurised and cast while the molecules are still in cache
    bufs = [np.zeros((block, r.width), dtype=r.dtype) for r in specs]
    pairs = list(zip(specs, bufs, strict=True))
    kept: list[int] = []
    rejections: list[Rejection] = []
    limit = max_atoms if max_atoms is not None else math.inf
    from_smiles = _chem().MolFromSmiles
    rdBase = require("rdkit.rdBase", "molecules")
    done = b = 0

    def flush() -> None:
        for j, (r, buf) in enumerate(pairs):
            part = buf[:b]
            if r.post is not None:
                r.post(part)
            out[done : done + b, bounds[j] : bounds[j + 1]] = part

    with rdBase.BlockLogs():
        for i, text in enumerate(smiles):
            try:
                mol = from_smiles(text)
            except Exception:  # not a string
                mol = None
            if mol is None or not 0 < mol.GetNumAtoms() <= limit:
                rejections += parse_smiles([text], max_atoms=max_atoms, rows=[i + 1])[1]
                continue
            for r, buf in pairs:
                buf[b] = r.row(mol)
            kept.append(i)
            b += 1
            if b == block:
                flush()
                done, b = done + b, 0
            if progress is not None and (i + 1) % _CHUNK == 0:
                progress("featurising SMILES", i + 1, n)
        flush()
        done += b
    if progress is not None:
        progress("featurising SMILES", n, n)
    return out[:done], np.asarray(kept, dtype=np.int64), rejections


def feature_names(kind: str = "morgan", **params: Any) -> list[str]:
    """Column names of ``featurize(mols, kind, **params)``, e.g. ``morgan_0``, ``MolWt``."""
    parts = _parts(kind)
    _check_params(parts, params)
    names: list[str] = []
    for p in parts:
        if p in ("morgan", "morgan_counts"):
            n_bits = int(params.get("n_bits", 2048))
            names += [f"{p}_{i}" for i in range(n_bits)]
        elif p == "maccs":
            names += [f"maccs_{i}" for i in range(167)]
        else:
            names += descriptor_names()
    return names


# --- graphs ----------------------------------------------------------------------------------------
#: Atomic numbers with their own one-hot slot (then one slot for any other element).
ELEMENTS = (1, 5, 6, 7, 8, 9, 11, 14, 15, 16, 17, 19, 34, 35, 53)
DEGREES = (0, 1, 2, 3, 4, 5)
FORMAL_CHARGES = (-2, -1, 0, 1, 2)
CHIRAL_TAGS = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER")
NUM_HS = (0, 1, 2, 3, 4)
HYBRIDISATIONS = ("S", "SP", "SP2", "SP2D", "SP3", "SP3D", "SP3D2")
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
BOND_STEREO = ("STEREONONE", "STEREOANY", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS")

_SYMBOLS = {1: "H", 5: "B", 6: "C", 7: "N", 8: "O", 9: "F", 11: "Na", 14: "Si", 15: "P",
            16: "S", 17: "Cl", 19: "K", 34: "Se", 35: "Br", 53: "I"}  # fmt: skip

#: Names of the atom feature columns (length :data:`ATOM_FDIM`).
ATOM_FEATURE_NAMES: tuple[str, ...] = (
    *(f"element={_SYMBOLS[z]}" for z in ELEMENTS),
    "element=other",
    *(f"degree={d}" for d in DEGREES),
    "degree=other",
    *(f"charge={c:+d}" for c in FORMAL_CHARGES),
    "charge=other",
    *(f"chiral={t}" for t in CHIRAL_TAGS),
    "chiral=other",
    *(f"num_hs={h}" for h in NUM_HS),
    "num_hs=other",
    *(f"hybridisation={h}" for h in HYBRIDISATIONS),
    "hybridisation=other",
    "aromatic",
    "mass/100",
)
#: Names of the bond feature columns (length :data:`BOND_FDIM`).
BOND_FEATURE_NAMES: tuple[str, ...] = (
    *(f"bond={t}" for t in BOND_TYPES),
    "conjugated",
    "in_ring",
    *(f"stereo={s}" for s in BOND_STEREO),
    "stereo=other",
)
ATOM_FDIM = len(ATOM_FEATURE_NAMES)
BOND_FDIM = len(BOND_FEATURE_NAMES)


def _slots(values: Sequence[Any]) -> dict[Any, int]:
    return {v: i for i, v in enumerate(values)}


_ELEMENT_SLOT = _slots(ELEMENTS)
_DEGREE_SLOT = _slots(DEGREES)
_CHARGE_SLOT = _slots(FORMAL_CHARGES)
_CHIRAL_SLOT = _slots(CHIRAL_TAGS)
_HS_SLOT = _slots(NUM_HS)
_HYB_SLOT = _slots(HYBRIDISATIONS)
_BOND_SLOT = _slots(BOND_TYPES)
_STEREO_SLOT = _slots(BOND_STEREO)
# offsets of each one-hot block in the atom vector
_A_EL = 0
_A_DEG = _A_EL + len(ELEMENTS) + 1
_A_CHG = _A_DEG + len(DEGREES) + 1
_A_CHI = _A_CHG + len(FORMAL_CHARGES) + 1
_A_HS = _A_CHI + len(CHIRAL_TAGS) + 1
_A_HYB = _A_HS + len(NUM_HS) + 1
_A_ARO = _A_HYB + len(HYBRIDISATIONS) + 1
_A_MASS = _A_ARO + 1
_B_CONJ = len(BOND_TYPES)
_B_RING = _B_CONJ + 1
_B_STEREO = _B_RING + 1


@dataclass(frozen=True)
class MolGraph:
    """One molecule as a graph with directed bonds (chemprop D-MPNN layout).

    Attributes
    ----------
    atom_features : numpy.ndarray, shape (n_atoms, ATOM_FDIM), float32
        Per atom (columns :data:`ATOM_FEATURE_NAMES`): one-hot element (common elements +
        other), degree, formal charge, chiral tag, total Hs, hybridisation; aromatic flag;
        mass / 100.
    bond_features : numpy.ndarray, shape (2 * n_bonds, BOND_FDIM), float32
        Per directed bond (columns :data:`BOND_FEATURE_NAMES`): one-hot bond type, conjugated,
        in ring, one-hot stereo. Both directions of a bond carry the same features.
    edge_index : numpy.ndarray, shape (2, 2 * n_bonds), int64
        Source (row 0) and target (row 1) atom of each directed bond; bond ``k`` of the
        molecule gives columns ``2k`` (begin→end) and ``2k + 1`` (end→begin).
    rev : numpy.ndarray, shape (2 * n_bonds,), int64
        Index of the reverse directed bond (``rev[e] == e ^ 1``).
    """

    atom_features: np.ndarray
    bond_features: np.ndarray
    edge_index: np.ndarray
    rev: np.ndarray

    @property
    def n_atoms(self) -> int:
        return int(self.atom_features.shape[0])

    @property
    def n_bonds(self) -> int:
        """Number of directed bonds (twice the chemical bonds)."""
        return int(self.bond_features.shape[0])


def mol_graph(mol: Mol) -> MolGraph:
    """Atom and directed-bond features of one molecule.

    Parameters
    ----------
    mol : rdkit.Chem.Mol
        A sanitised molecule (hydrogens implicit, as from :func:`~medai.molecules.io.read_molecules`).

    Returns
    -------
    MolGraph
        Arrays of shapes (n_atoms, ATOM_FDIM), (2 n_bonds, BOND_FDIM), (2, 2 n_bonds), (2 n_bonds,).
    """
    if mol is None:
        raise InvalidInputError("mol_graph got None instead of an RDKit molecule")
    n_atoms = mol.GetNumAtoms()
    atoms = np.zeros((n_atoms, ATOM_FDIM), dtype=np.float32)
    for atom in mol.GetAtoms():
        i = atom.GetIdx()
        row = atoms[i]
        row[_A_EL + _ELEMENT_SLOT.get(atom.GetAtomicNum(), len(ELEMENTS))] = 1.0
        row[_A_DEG + _DEGREE_SLOT.get(atom.GetTotalDegree(), len(DEGREES))] = 1.0
        row[_A_CHG + _CHARGE_SLOT.get(atom.GetFormalCharge(), len(FORMAL_CHARGES))] = 1.0
        row[_A_CHI + _CHIRAL_SLOT.get(str(atom.GetChiralTag()), len(CHIRAL_TAGS))] = 1.0
        row[_A_HS + _HS_SLOT.get(atom.GetTotalNumHs(), len(NUM_HS))] = 1.0
        row[_A_HYB + _HYB_SLOT.get(str(atom.GetHybridization()), len(HYBRIDISATIONS))] = 1.0
        row[_A_ARO] = float(atom.GetIsAromatic())
        row[_A_MASS] = atom.GetMass() / 100.0
    n_bonds = mol.GetNumBonds()
    bonds = np.zeros((2 * n_bonds, BOND_FDIM), dtype=np.float32)
    edges = np.zeros((2, 2 * n_bonds), dtype=np.int64)
    for bond in mol.GetBonds():
        k = bond.GetIdx()
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        feats = bonds[2 * k]
        slot = _BOND_SLOT.get(str(bond.GetBondType()))
        if slot is not None:
            feats[slot] = 1.0
        feats[_B_CONJ] = float(bond.GetIsConjugated())
        feats[_B_RING] = float(bond.IsInRing())
        feats[_B_STEREO + _STEREO_SLOT.get(str(bond.GetStereo()), len(BOND_STEREO))] = 1.0
        bonds[2 * k + 1] = feats
        edges[:, 2 * k] = (a, b)
        edges[:, 2 * k + 1] = (b, a)
    rev = np.arange(2 * n_bonds, dtype=np.int64) ^ 1
    return MolGraph(atoms, bonds, edges, rev)


def mol_graphs(mols: Sequence[Mol], progress: Progress | None = None) -> list[MolGraph]:
    """:func:`mol_graph` for each molecule (progress every 1024 molecules)."""
    out: list[MolGraph] = []
    for i, mol in enumerate(mols):
        if mol is None:
            raise _none_at(mols)
        out.append(mol_graph(mol))
        if progress is not None and ((i + 1) % _CHUNK == 0 or i + 1 == len(mols)):
            progress("molecular graphs", i + 1, len(mols))
    return out


@dataclass(frozen=True)
class BatchGraph:
    """Several molecular graphs as one disconnected graph (indices offset per molecule).

    Attributes
    ----------
    atom_features : numpy.ndarray, shape (N_atoms, ATOM_FDIM), float32
    bond_features : numpy.ndarray, shape (N_bonds, BOND_FDIM), float32
        ``N_bonds`` counts directed bonds.
    bond_source : numpy.ndarray, shape (N_bonds,), int64
        Atom (row of ``atom_features``) each directed bond starts from.
    bond_target : numpy.ndarray, shape (N_bonds,), int64
        Atom each directed bond points to.
    rev_bond : numpy.ndarray, shape (N_bonds,), int64
        Index of the reverse directed bond.
    atom_batch : numpy.ndarray, shape (N_atoms,), int64
        Molecule (0..n_mols-1) of each atom, for pooling atom states into molecule vectors.
    n_atoms : numpy.ndarray, shape (n_mols,), int64
        Atoms per molecule.

    Notes
    -----
    A D-MPNN (chemprop) initialises each directed bond ``e = (v -> w)`` from
    ``concat(atom_features[bond_source[e]], bond_features[e])``; a message step sums the
    hidden states of bonds arriving at ``v`` (``index_add`` over ``bond_target``) and subtracts
    the reverse bond's state (``h[rev_bond[e]]``); atom states pool by ``atom_batch``.
    """

    atom_features: np.ndarray
    bond_features: np.ndarray
    bond_source: np.ndarray
    bond_target: np.ndarray
    rev_bond: np.ndarray
    atom_batch: np.ndarray
    n_atoms: np.ndarray

    @property
    def n_mols(self) -> int:
        return int(self.n_atoms.shape[0])


def batch_graphs(graphs: Sequence[MolGraph]) -> BatchGraph:
    """Concatenate graphs into one :class:`BatchGraph` (see its attributes for shapes)."""
    if not graphs:
        raise InvalidInputError("batch_graphs needs at least one graph")
    n_atoms = np.array([g.n_atoms for g in graphs], dtype=np.int64)
    n_bonds = np.array([g.n_bonds for g in graphs], dtype=np.int64)
    atom_off = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    bond_off = np.concatenate([[0], np.cumsum(n_bonds)[:-1]])
    edges = np.concatenate(
        [g.edge_index + off for g, off in zip(graphs, atom_off, strict=True)], axis=1
    )
    return BatchGraph(
        atom_features=np.concatenate([g.atom_features for g in graphs], axis=0),
        bond_features=np.concatenate([g.bond_features for g in graphs], axis=0),
        bond_source=edges[0].copy(),
        bond_target=edges[1].copy(),
        rev_bond=np.concatenate([g.rev + off for g, off in zip(graphs, bond_off, strict=True)]),
        atom_batch=np.repeat(np.arange(len(graphs), dtype=np.int64), n_atoms),
        n_atoms=n_atoms,
    )
