"""Data splits for molecules: random, Bemis-Murcko scaffold, stratified, and k-fold.

Every function is deterministic for a given ``seed`` (numpy ``default_rng``) and returns index
arrays (int64, sorted ascending within each part) into the input order.

Scaffold splits follow chemprop: molecules are grouped by Bemis-Murcko scaffold (acyclic
molecules share the empty scaffold); with ``balanced=True`` the scaffold sets too big to fit
half of a validation/test part go first (shuffled), then the others (shuffled), and each set
goes whole into the first part that still has room, else the last part. So no scaffold is in
two parts, and parts can differ from the requested fractions by up to one scaffold set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from medai.core.errors import InvalidInputError, require

if TYPE_CHECKING:
    from rdkit.Chem import Mol

__all__ = [
    "kfold",
    "murcko_scaffold",
    "random_split",
    "scaffold_sets",
    "scaffold_split",
    "stratified_split",
]

Frac = Sequence[float]


def _check_frac(frac: Frac) -> np.ndarray:
    f = np.asarray(frac, dtype=np.float64)
    if f.ndim != 1 or len(f) < 2 or np.any(f < 0) or not math.isclose(f.sum(), 1.0, abs_tol=1e-6):
        raise InvalidInputError(
            f"frac must be two or more non-negative fractions summing to 1, got {tuple(frac)}"
        )
    return f


def _sizes(n: int, f: np.ndarray) -> np.ndarray:
    """Part sizes summing to n (cumulative rounding, so the last part takes the remainder)."""
    bounds = np.rint(np.cumsum(f) * n).astype(np.int64)
    bounds[-1] = n
    return np.diff(np.concatenate([[0], bounds]))


def _check_n(n: int) -> int:
    if not isinstance(n, int | np.integer) or n < 1:
        raise InvalidInputError(f"n must be a positive number of molecules, got {n!r}")
    return int(n)


def random_split(n: int, frac: Frac = (0.8, 0.1, 0.1), seed: int = 0) -> list[np.ndarray]:
    """Shuffle ``range(n)`` and cut it into parts.

    Parameters
    ----------
    n : int
        Number of molecules.
    frac : sequence of float
        Part fractions, summing to 1 (e.g. train, validation, test).
    seed : int

    Returns
    -------
    list of numpy.ndarray
        One int64 index array per fraction, sizes ``round(cumsum(frac) * n)`` apart.
    """
    n = _check_n(n)
    f = _check_frac(frac)
    perm = np.random.default_rng(seed).permutation(n)
    parts, start = [], 0
    for size in _sizes(n, f):
        parts.append(np.sort(perm[start : start + size]))
        start += size
    return parts


def murcko_scaffold(mol: Mol, generic: bool = False, chirality: bool = False) -> str:
    """Canonical SMILES of the Bemis-Murcko scaffold (``""`` for an acyclic molecule).

    Parameters
    ----------
    mol : rdkit.Chem.Mol
    generic : bool
        Generic framework: every atom carbon, every bond single (``MakeScaffoldGeneric``).
    chirality : bool
        Keep stereochemistry in the scaffold SMILES.
    """
    Chem = require("rdkit.Chem", "molecules")
    from rdkit.Chem.Scaffolds import MurckoScaffold

    core = MurckoScaffold.GetScaffoldForMol(mol)
    if generic and core.GetNumAtoms():
        core = MurckoScaffold.MakeScaffoldGeneric(core)
    return str(Chem.MolToSmiles(core, isomericSmiles=chirality))


def _as_mols(smiles_or_mols: Sequence[str | Mol]) -> list[Any]:
    Chem = require("rdkit.Chem", "molecules")
    rdBase = require("rdkit.rdBase", "molecules")
    mols = []
    with rdBase.BlockLogs():
        for i, x in enumerate(smiles_or_mols):
            mol = Chem.MolFromSmiles(x) if isinstance(x, str) else x
            if mol is None:
                raise InvalidInputError(
                    f"molecule {i} ({'SMILES ' + repr(x[:60]) if isinstance(x, str) else 'None'}) "
                    "could not be parsed; read the file with read_molecules, which reports bad rows"
                )
            mols.append(mol)
    return mols


def scaffold_sets(
    smiles_or_mols: Sequence[str | Mol], generic: bool = False
) -> dict[str, list[int]]:
    """Scaffold SMILES -> indices of the molecules with that scaffold (first-seen order)."""
    sets: dict[str, list[int]] = {}
    for i, mol in enumerate(_as_mols(smiles_or_mols)):
        sets.setdefault(murcko_scaffold(mol, generic=generic), []).append(i)
    return sets


def scaffold_split(
    smiles_or_mols: Sequence[str | Mol],
    frac: Frac = (0.8, 0.1, 0.1),
    seed: int = 0,
    balanced: bool = True,
    generic: bool = False,
) -> list[np.ndarray]:
    """Split so that no Bemis-Murcko scaffold is in two parts (chemprop's scaffold_balanced).

    Parameters
    ----------
    smiles_or_mols : sequence of str or rdkit.Chem.Mol, length n
    frac : sequence of float
        Target part fractions, summing to 1; the first part is the training set.
    seed : int
        Order of the scaffold sets (``balanced=True``); ignored otherwise.
    balanced : bool
        chemprop's balanced order: sets larger than half of any later part first, then the
        rest, each group shuffled. ``False``: largest sets first (deterministic, the
        MoleculeNet/DeepChem order, which puts rare scaffolds in the test set).
    generic : bool
        Group by generic frameworks (atom and bond types erased), which merges more molecules.

    Returns
    -------
    list of numpy.ndarray
        One sorted int64 index array per fraction.
    """
    f = _check_frac(frac)
    sets = list(scaffold_sets(smiles_or_mols, generic=generic).values())
    n = sum(len(s) for s in sets)
    sizes = _sizes(_check_n(n), f)
    if balanced:
        rng = np.random.default_rng(seed)
        later = sizes[1:]
        big = [s for s in sets if any(len(s) > k / 2 for k in later)]
        small = [s for s in sets if not any(len(s) > k / 2 for k in later)]
        order = [big[i] for i in rng.permutation(len(big))]
        order += [small[i] for i in rng.permutation(len(small))]
    else:
        order = sorted(sets, key=lambda s: (-len(s), s[0]))
    parts: list[list[int]] = [[] for _ in sizes]
    for s in order:
        for k, size in enumerate(sizes):
            if k == len(sizes) - 1 or len(parts[k]) + len(s) <= size:
                parts[k].extend(s)
                break
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def _strata(y: Any, n_bins: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or len(arr) == 0:
        raise InvalidInputError(f"y must be a non-empty 1-D array of labels, got shape {arr.shape}")
    if arr.dtype.kind in "fc":
        if np.isnan(arr).any():
            bad = np.flatnonzero(np.isnan(arr))[:5].tolist()
            raise InvalidInputError(f"y has missing values at positions {bad}; drop them first")
        if len(np.unique(arr)) > n_bins:  # continuous: stratify by quantile bins
            edges = np.quantile(arr, np.linspace(0, 1, n_bins + 1)[1:-1])
            return np.searchsorted(edges, arr, side="right")
    return np.unique(arr, return_inverse=True)[1]


def stratified_split(
    y: Sequence[Any] | np.ndarray,
    frac: Frac = (0.8, 0.1, 0.1),
    seed: int = 0,
    n_bins: int = 10,
) -> list[np.ndarray]:
    """Split keeping the class proportions (or quantile bins of a continuous ``y``) per part.

    Parameters
    ----------
    y : array-like, shape (n,)
        Class labels; a float array with more than ``n_bins`` distinct values is binned into
        ``n_bins`` quantile bins first.
    frac : sequence of float
    seed : int
    n_bins : int

    Returns
    -------
    list of numpy.ndarray
        One sorted int64 index array per fraction.
    """
    f = _check_frac(frac)
    strata = _strata(y, n_bins)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in f]
    # each stratum is cut by the fractions on its own (part sizes may differ by a few rows)
    for label in np.unique(strata):
        idx = rng.permutation(np.flatnonzero(strata == label))
        start = 0
        for k, size in enumerate(_sizes(len(idx), f)):
            parts[k].extend(idx[start : start + size].tolist())
            start += size
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def kfold(
    n_or_smiles: int | Sequence[str | Mol],
    k: int = 5,
    seed: int = 0,
    scaffold: bool = False,
    generic: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold cross-validation folds, optionally grouped by scaffold.

    Parameters
    ----------
    n_or_smiles : int or sequence of str / rdkit.Chem.Mol
        The number of molecules, or the molecules (needed for ``scaffold=True``).
    k : int
        Number of folds (at least 2).
    seed : int
    scaffold : bool
        Keep each Bemis-Murcko scaffold in one fold: scaffold sets are shuffled, sorted by size
        (largest first) and each goes to the currently smallest fold.
    generic : bool
        Generic scaffolds (with ``scaffold=True``).

    Returns
    -------
    list of (train, test) pairs of numpy.ndarray
        ``k`` pairs of sorted int64 index arrays; every index is in exactly one test fold.
    """
    if not isinstance(k, int) or k < 2:
        raise InvalidInputError(f"k must be an integer of at least 2, got {k!r}")
    rng = np.random.default_rng(seed)
    if scaffold:
        if isinstance(n_or_smiles, int | np.integer):
            raise InvalidInputError("kfold(scaffold=True) needs the SMILES or molecules, not n")
        sets = list(scaffold_sets(n_or_smiles, generic=generic).values())
        n = sum(len(s) for s in sets)
        if len(sets) < k:
            raise InvalidInputError(f"{len(sets)} scaffolds cannot fill {k} folds; lower k")
        shuffled = [sets[i] for i in rng.permutation(len(sets))]
        shuffled.sort(key=len, reverse=True)  # stable: ties keep the seeded order
        folds: list[list[int]] = [[] for _ in range(k)]
        for s in shuffled:
            min(folds, key=len).extend(s)
        tests = [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]
    else:
        n = _check_n(n_or_smiles if isinstance(n_or_smiles, int | np.integer) else len(n_or_smiles))
        if n < k:
            raise InvalidInputError(f"{n} molecules cannot fill {k} folds; lower k")
        tests = [np.sort(part) for part in np.array_split(rng.permutation(n), k)]
    everything = np.arange(n, dtype=np.int64)
    return [(np.setdiff1d(everything, t, assume_unique=True), t) for t in tests]
