"""medai.molecules.features and .splits: fingerprints equal RDKit's, descriptors, graphs, splits."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

from medai.core.errors import InvalidInputError
from medai.molecules.features import (
    ATOM_FDIM,
    BOND_FDIM,
    batch_graphs,
    descriptor_names,
    feature_names,
    featurize,
    featurize_smiles,
    mol_graph,
)
from medai.molecules.splits import (
    kfold,
    murcko_scaffold,
    random_split,
    scaffold_split,
    stratified_split,
)


@pytest.fixture(scope="module")
def esol_mols(esol_smiles: list[str]) -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in esol_smiles[:300]]


def test_morgan_bits_and_counts_equal_rdkit(esol_mols: list[Chem.Mol]) -> None:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=3, fpSize=1024)
    bits = featurize(esol_mols, "morgan", radius=3, n_bits=1024)
    assert bits.shape == (300, 1024) and bits.dtype == np.float32
    assert np.array_equal(bits, np.stack([gen.GetFingerprintAsNumPy(m) for m in esol_mols]))
    counts = featurize(esol_mols, "morgan_counts", radius=3, n_bits=1024)
    raw = np.stack([gen.GetCountFingerprintAsNumPy(m) for m in esol_mols])
    assert np.array_equal(counts, raw) and counts.max() > 1
    default = featurize(esol_mols[:5])  # morgan, radius 2, 2048 bits
    gen2 = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    assert np.array_equal(default, np.stack([gen2.GetFingerprintAsNumPy(m) for m in esol_mols[:5]]))


def test_maccs_and_combination(esol_mols: list[Chem.Mol]) -> None:
    mols = esol_mols[:20]
    keys = featurize(mols, "maccs")
    ref = np.zeros((20, 167))
    for i, m in enumerate(mols):
        DataStructs.ConvertToNumpyArray(MACCSkeys.GenMACCSKeys(m), ref[i])
    assert np.array_equal(keys, ref)
    combo = featurize(mols, "morgan+maccs", n_bits=512)
    assert combo.shape == (20, 512 + 167)
    assert len(feature_names("morgan+maccs", n_bits=512)) == 512 + 167
    with pytest.raises(InvalidInputError, match="unknown featuriser"):
        featurize(mols, "morgan+ecfp")
    with pytest.raises(InvalidInputError, match="no parameter"):
        featurize(mols, "maccs", radius=3)
    with pytest.raises(InvalidInputError, match=r"mols\[1\] is None"):
        featurize([mols[0], None], "morgan")


def test_rdkit2d_finite(esol_mols: list[Chem.Mol]) -> None:
    odd = [Chem.MolFromSmiles(s) for s in ("[Na+].[Cl-]", "C", "[Se]", "C1CC2CCC1C2")]
    x = featurize(esol_mols[:30] + odd, "rdkit2d")
    assert x.shape == (34, len(descriptor_names())) and x.shape[1] > 200
    assert x.dtype == np.float32 and np.isfinite(x).all()
    mw = descriptor_names().index("MolWt")
    assert x[-3, mw] == pytest.approx(16.043, abs=1e-3)


def test_mol_graph_directed_bonds() -> None:
    g = mol_graph(Chem.MolFromSmiles("CC(=O)O"))
    assert g.atom_features.shape == (4, ATOM_FDIM)
    assert g.bond_features.shape == (6, BOND_FDIM) and g.edge_index.shape == (2, 6)
    assert np.array_equal(g.edge_index[:, 0], g.edge_index[::-1, 1])
    assert np.array_equal(g.rev[g.rev], np.arange(6))
    assert np.allclose(g.atom_features[:, :-1].sum(1), 6 + g.atom_features[:, -2])  # 6 one-hots
    lone = mol_graph(Chem.MolFromSmiles("[Na+]"))
    batch = batch_graphs([g, lone, g])
    assert batch.atom_features.shape == (9, ATOM_FDIM) and batch.bond_features.shape == (12, 13)
    assert batch.atom_batch.tolist() == [0, 0, 0, 0, 1, 2, 2, 2, 2]
    assert batch.bond_source[6:].min() == 5  # third molecule's atoms start at 5
    assert np.array_equal(batch.bond_source[batch.rev_bond], batch.bond_target)


def test_scaffold_split_no_shared_scaffold_and_deterministic(esol_smiles: list[str]) -> None:
    parts = scaffold_split(esol_smiles, (0.8, 0.1, 0.1), seed=3)
    assert sum(len(p) for p in parts) == len(esol_smiles)
    assert len(np.unique(np.concatenate(parts))) == len(esol_smiles)
    mols = [Chem.MolFromSmiles(s) for s in esol_smiles]
    scaffolds = [{murcko_scaffold(mols[i]) for i in p} for p in parts]
    assert not (scaffolds[0] & scaffolds[1] or scaffolds[0] & scaffolds[2])
    assert not scaffolds[1] & scaffolds[2]
    again = scaffold_split(mols, (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    other = scaffold_split(esol_smiles, (0.8, 0.1, 0.1), seed=4)
    assert not np.array_equal(parts[1], other[1])
    assert abs(len(parts[0]) - 0.8 * len(esol_smiles)) < 0.05 * len(esol_smiles)


def test_random_stratified_kfold() -> None:
    parts = random_split(101, (0.8, 0.1, 0.1), seed=0)
    assert [len(p) for p in parts] == [81, 10, 10]
    assert all(np.array_equal(a, b) for a, b in zip(parts, random_split(101, seed=0), strict=True))
    y = np.r_[np.zeros(90), np.ones(10)]
    strat = stratified_split(y, (0.8, 0.2), seed=1)
    assert [int(y[p].sum()) for p in strat] == [8, 2]
    folds = kfold(23, k=5, seed=0)
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests.tolist()) == list(range(23))
    assert all(len(np.intersect1d(tr, te)) == 0 for tr, te in folds)
    smiles = ["c1ccccc1C", "c1ccccc1CC", "C1CCCCC1", "C1CCCCC1O", "CCO", "CCN", "c1ccncc1"]
    sfolds = kfold(smiles, k=3, seed=0, scaffold=True)
    for _, test in sfolds:
        inside = {murcko_scaffold(Chem.MolFromSmiles(smiles[i])) for i in test}
        outside = {murcko_scaffold(Chem.MolFromSmiles(smiles[i])) for i in _}
        assert not inside & outside
    with pytest.raises(InvalidInputError, match="summing to 1"):
        random_split(10, (0.5, 0.2))


def test_featurize_smiles_streams_and_reports(esol_smiles: list[str]) -> None:
    smiles = [*esol_smiles[:1100], "C1CC", *esol_smiles[:100]]  # more than one chunk of 1024
    x, kept, rejected = featurize_smiles(smiles, "morgan", n_bits=1024)
    assert x.shape == (1200, 1024) and len(kept) == 1200 and 1100 not in kept
    assert [(r.row, r.reason) for r in rejected] == [(1101, "invalid SMILES: unclosed ring")]
    mols = [Chem.MolFromSmiles(smiles[i]) for i in kept]
    assert np.array_equal(x, featurize(mols, "morgan", n_bits=1024))
    combo, kept2, _ = featurize_smiles(["CCO", "", "c1ccccc1O", "[Na+].[Cl-]"], "maccs+rdkit2d")
    assert kept2.tolist() == [0, 2, 3]
    ref = featurize([Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1O", "[Na+].[Cl-]")],
                    "maccs+rdkit2d")  # fmt: skip
    assert np.array_equal(combo, ref)
