"""Per-atom explanations (integrated gradients, fingerprint-bit masking) and similarity maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lightgbm")

from rdkit import Chem
from rdkit.Chem import rdMolDescriptors
from scipy.stats import spearmanr

from medai.core.errors import InvalidInputError
from medai.molecules.draw import similarity_map
from medai.molecules.model import MolBundle
from medai.molecules.train import train

PROBES = ["CCCCCCCCO", "Clc1ccc(Cl)cc1CCN", "OC(=O)c1ccccc1N", "CC(=O)Oc1ccccc1C(=O)O"]


@pytest.fixture(scope="module")
def lgbm(nci_logp: Path) -> MolBundle:
    # fingerprint only: with rdkit2d the model would read Crippen's MolLogP descriptor itself
    return train(nci_logp, targets=["logp"], model="lightgbm", features="morgan_counts",
                 n_boot=20)  # fmt: skip


@pytest.fixture(scope="module")
def mpnn(nci_logp: Path) -> MolBundle:
    return train(nci_logp, targets=["logp"], model="mpnn", epochs=6, hidden=48, ensemble=2,
                 descriptors=True, n_boot=20)  # fmt: skip


def _crippen(mol: Chem.Mol) -> np.ndarray:
    return np.array([c[0] for c in rdMolDescriptors._CalcCrippenContribs(mol)])


def test_masking_follows_crippen_contributions(lgbm: MolBundle) -> None:
    explanations = lgbm.explain(PROBES)
    preds = lgbm.predict(PROBES)["pred_logp"].to_numpy()
    rhos = []
    for e, p in zip(explanations, preds, strict=True):
        assert e.error is None and e.method == "fingerprint-bit masking"
        assert e.weights.shape == (e.mol.GetNumAtoms(), 1)
        assert e.prediction[0] == pytest.approx(p)  # the same model as predict
        rhos.append(spearmanr(e.weights[:, 0], _crippen(e.mol))[0])
    # a model of logP learns which atoms make a molecule lipophilic
    assert np.mean(rhos) > 0.4, rhos


def test_integrated_gradients_are_complete(mpnn: MolBundle) -> None:
    explanations = mpnn.explain(PROBES, steps=64)
    preds = mpnn.predict(PROBES)["pred_logp"].to_numpy()
    for e, p in zip(explanations, preds, strict=True):
        assert e.method == "integrated gradients" and e.baseline is not None
        assert e.prediction[0] == pytest.approx(p, abs=1e-4)
        # the weights add up to prediction - baseline (up to the integration error)
        gap = e.prediction[0] - e.baseline[0]
        assert e.weights[:, 0].sum() == pytest.approx(gap, abs=0.05 * max(1.0, abs(gap)))
    frame = explanations[0].frame()
    assert list(frame.columns) == ["atom", "symbol", "target", "weight"]
    assert frame["symbol"].tolist()[-1] == "O" and len(frame) == 9


def test_bad_inputs_and_drawings(lgbm: MolBundle, nci_logp: Path) -> None:
    bad = lgbm.explain(["C1CC", "CCO"])
    assert bad[0].mol is None and "unclosed" in (bad[0].error or "")
    with pytest.raises(InvalidInputError, match="no explanation"):
        bad[0].svg()
    svg = bad[1].svg()
    assert svg.startswith("<svg") and "</svg>" in svg
    with pytest.raises(InvalidInputError, match="steps"):
        lgbm.explain("CCO", steps=0)
    maccs = train(nci_logp, targets=["logp"], model="rf", features="maccs", n_trees=10, n_boot=0)
    with pytest.raises(InvalidInputError, match="Morgan"):
        maccs.explain("CCO")
    mixed = train(nci_logp, targets=["logp"], model="rf", features="morgan+maccs", n_trees=10,
                  n_boot=0)  # fmt: skip
    e = mixed.explain(PROBES[1])[0]  # the MACCS block stays, the Morgan block is masked
    assert e.prediction[0] == pytest.approx(mixed.predict(PROBES[1])["pred_logp"].iloc[0])
    assert np.abs(e.weights).sum() > 0
    mol = Chem.MolFromSmiles("c1ccccc1O")
    png = similarity_map(mol, np.arange(7) - 3.0, fmt="png")
    assert isinstance(png, bytes) and png[:4] == b"\x89PNG"
    with pytest.raises(InvalidInputError, match="one per atom"):
        similarity_map(mol, [1.0, 2.0])
