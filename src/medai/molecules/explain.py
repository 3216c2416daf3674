"""Per-atom explanations of molecule models, drawn as similarity maps.

Two methods, chosen by the model:

* **D-MPNN: integrated gradients** (Sundararajan et al. 2017) on the atom and bond input
  features, from an all-zero graph (the descriptor features, if any, stay at the molecule's
  values) to the molecule in ``steps`` steps, on the prediction scale (target units, or the
  probability of class 1). Bond attributions are split equally between the bond's two atoms.
  The weights add up to the prediction minus the prediction of the empty graph (``baseline``),
  up to the integration error.
* **LightGBM / random forest on Morgan features: fingerprint-bit masking** (Riniker & Landrum
  2013, the method behind RDKit's similarity maps): an atom's weight is the prediction minus
  the prediction with every Morgan environment that contains the atom removed from the
  fingerprint (bits whose count drops to zero switch off; other feature blocks, e.g.
  descriptors, stay as they are). Models without a Morgan block cannot be explained per atom.

Positive weights raise the prediction (or the probability of class 1); negative ones lower it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from medai.core.errors import InvalidInputError, require

if TYPE_CHECKING:
    from rdkit.Chem import Mol

    from medai.core.report import Report
    from medai.molecules.model import MolBundle

__all__ = ["METHODS", "MolExplanation", "explain_bundle", "explain_report"]

METHODS = {"mpnn": "integrated gradients", "lightgbm": "fingerprint-bit masking",
           "rf": "fingerprint-bit masking"}  # fmt: skip
MORGAN_PARTS = ("morgan", "morgan_counts")


@dataclass
class MolExplanation:
    """Per-atom contributions to one molecule's predictions.

    Attributes
    ----------
    smiles : str
        The SMILES as given.
    mol : rdkit.Chem.Mol or None
        The (standardised) molecule the model saw; None when it could not be read.
    targets : list of str
    weights : numpy.ndarray, shape (n_atoms, n_targets)
        Contribution of each atom (indices of ``mol``) to each target's prediction.
    prediction : numpy.ndarray, shape (n_targets,)
        The ensemble's prediction (target units or probability).
    baseline : numpy.ndarray, shape (n_targets,) or None
        Integrated gradients: the prediction for the empty graph (weights sum to
        ``prediction - baseline``); None for fingerprint masking.
    method : str
    error : str or None
        Why the molecule could not be explained (then ``mol`` is None and the arrays empty).
    """

    smiles: str
    mol: Mol | None
    targets: list[str]
    weights: np.ndarray
    prediction: np.ndarray
    baseline: np.ndarray | None
    method: str
    error: str | None = None

    def _target_index(self, target: str | None) -> int:
        if target is None:
            return 0
        if target not in self.targets:
            raise InvalidInputError(f"target {target!r} is not one of {self.targets}")
        return self.targets.index(target)

    def svg(self, target: str | None = None, size: tuple[int, int] = (320, 280)) -> str:
        """The similarity map of ``target`` (default: the first) as SVG markup."""
        from medai.molecules.draw import similarity_map

        if self.mol is None:
            raise InvalidInputError(f"{self.smiles!r} has no explanation: {self.error}")
        j = self._target_index(target)
        return str(similarity_map(self.mol, self.weights[:, j], size=size))

    def frame(self) -> pd.DataFrame:
        """One row per atom and target: ``atom``, ``symbol``, ``target``, ``weight``."""
        if self.mol is None:
            return pd.DataFrame(columns=["atom", "symbol", "target", "weight"])
        symbols = [a.GetSymbol() for a in self.mol.GetAtoms()]
        return pd.DataFrame(
            [{"atom": i, "symbol": symbols[i], "target": t, "weight": float(self.weights[i, j])}
             for j, t in enumerate(self.targets) for i in range(len(symbols))]
        )  # fmt: skip


# --- fingerprint-bit masking ----------------------------------------------------------------
def _environment_atoms(mol: Mol, center: int, radius: int) -> set[int]:
    Chem = require("rdkit.Chem", "molecules")
    atoms = {center}
    if radius > 0:
        for b in Chem.FindAtomEnvironmentOfRadiusN(mol, radius, center):
            bond = mol.GetBondWithIdx(b)
            atoms.update((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()))
    return atoms


def _morgan_masks(mol: Mol, params: dict[str, Any], counts: bool) -> np.ndarray:
    """Morgan block of the molecule with each atom masked: shape (n_atoms + 1, n_bits).

    Row 0 is the full fingerprint; row ``i + 1`` drops every environment containing atom ``i``.
    """
    G = require("rdkit.Chem.rdFingerprintGenerator", "molecules")
    from medai.molecules.features import _morgan_generator

    gen = _morgan_generator(int(params.get("radius", 2)), int(params.get("n_bits", 2048)),
                            bool(params.get("chirality", False)),
                            bool(params.get("features", False)))  # fmt: skip
    out = G.AdditionalOutput()
    out.AllocateBitInfoMap()
    full = gen.GetCountFingerprintAsNumPy(mol, additionalOutput=out).astype(np.float64)
    n = mol.GetNumAtoms()
    rows = np.repeat(full[None, :], n + 1, axis=0)
    for bit, envs in out.GetBitInfoMap().items():
        for center, radius in envs:
            for atom in _environment_atoms(mol, center, radius):
                rows[atom + 1, bit] -= 1
    rows = np.maximum(rows, 0)
    return rows if counts else (rows > 0).astype(np.float64)


def _masking(bundle: MolBundle, mol: Mol) -> tuple[np.ndarray, np.ndarray]:
    from medai.molecules.features import _params_for, _parts, featurize

    m = bundle.card["model"]
    params = dict(m.get("feature_params", {}))
    parts = _parts(str(m["features"]))
    if not any(p in MORGAN_PARTS for p in parts):
        raise InvalidInputError(
            f"this {bundle.kind} model uses features {m['features']!r} without Morgan bits, "
            "so its predictions cannot be split over atoms; train with features containing "
            "'morgan' (the default morgan+rdkit2d) or a D-MPNN"
        )
    blocks = []
    for p in parts:
        if p in MORGAN_PARTS:
            blocks.append(_morgan_masks(mol, _params_for(p, params), counts=p == "morgan_counts"))
        else:
            row = featurize([mol], p, dtype=np.float64, **_params_for(p, params))
            blocks.append(np.repeat(row, mol.GetNumAtoms() + 1, axis=0))
    x = np.concatenate(blocks, axis=1).astype(np.float32)
    preds = _tree_predictions(bundle, x)  # (n_atoms + 1, n_targets)
    return preds[0] - preds[1:], preds[0]


def _tree_predictions(bundle: MolBundle, x: np.ndarray) -> np.ndarray:
    if bundle.kind == "lightgbm":
        per_member = [np.stack([b.predict(x) for b in boosters], axis=1)
                      for boosters in bundle.members]  # fmt: skip
        return np.mean(per_member, axis=0)
    return np.stack([forest.predict_trees(x).mean(0) for forest in bundle.members], axis=1)


# --- integrated gradients -------------------------------------------------------------------
def _integrated_gradients(bundle: MolBundle, mol: Mol, steps: int) -> tuple[np.ndarray, ...]:
    require("torch", "molecules")
    import dataclasses

    import torch

    from medai.molecules.features import mol_graph
    from medai.molecules.mpnn import to_tensors

    graph = mol_graph(mol)
    n_atoms = mol.GetNumAtoms()
    g = to_tensors([graph] * steps)
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps  # midpoint rule
    atom_alpha = alphas[g.atom_batch].unsqueeze(1)
    bond_batch = g.atom_batch[g.source]
    bond_alpha = alphas[bond_batch].unsqueeze(1)
    extra_np = bundle.mpnn_extra([mol])
    extra = None if extra_np is None else torch.from_numpy(extra_np).float().repeat(steps, 1)
    k = len(bundle.targets)
    if bundle.classification:
        scale, shift = np.ones(k), np.zeros(k)
    else:
        scale = np.asarray(bundle.card["model"]["target_std"], dtype=np.float64)
        shift = np.asarray(bundle.card["model"]["target_mean"], dtype=np.float64)
    weights = np.zeros((n_atoms, k))
    baseline = np.zeros(k)
    prediction = np.zeros(k)
    source = graph.edge_index[0]
    target = graph.edge_index[1]
    empty = to_tensors([graph])
    empty = dataclasses.replace(empty, atoms=torch.zeros_like(empty.atoms),
                                bonds=torch.zeros_like(empty.bonds))  # fmt: skip
    full = to_tensors([graph])
    one_extra = None if extra is None else extra[:1]
    for net in bundle.members:
        net.eval()
        for j in range(k):
            atoms = (g.atoms * atom_alpha).requires_grad_(True)
            bonds = (g.bonds * bond_alpha).requires_grad_(True)
            out = net(dataclasses.replace(g, atoms=atoms, bonds=bonds), extra)[:, j]
            if bundle.classification:
                out = torch.sigmoid(out)
            ga, gb = torch.autograd.grad(out.sum(), (atoms, bonds))
            # average gradient over the path x input, per atom / directed bond of one copy
            a_attr = (ga.reshape(steps, n_atoms, -1).mean(0) * full.atoms).sum(1).detach().numpy()
            n_b = len(source)
            b_attr = (gb.reshape(steps, n_b, -1).mean(0) * full.bonds).sum(1).detach().numpy()
            w = a_attr.astype(np.float64)
            np.add.at(w, source, 0.5 * b_attr)
            np.add.at(w, target, 0.5 * b_attr)
            weights[:, j] += w * scale[j]
        with torch.no_grad():
            base = net(empty, one_extra).double().numpy()[0]
            pred = net(full, one_extra).double().numpy()[0]
        if bundle.classification:
            base, pred = 1 / (1 + np.exp(-base)), 1 / (1 + np.exp(-pred))
        else:
            base, pred = base * scale + shift, pred * scale + shift
        baseline += base
        prediction += pred
    m = len(bundle.members)
    return weights / m, prediction / m, baseline / m


def explain_bundle(
    bundle: MolBundle, smiles: str | Sequence[str], *, steps: int = 32
) -> list[MolExplanation]:
    """Per-atom contributions for each SMILES (see the module docstring for the methods).

    Parameters
    ----------
    bundle : MolBundle
    smiles : str or sequence of str
    steps : int
        Integrated-gradient steps (D-MPNN only).

    Returns
    -------
    list of MolExplanation
        One per SMILES, in order; unreadable SMILES get ``error`` set.
    """
    if isinstance(smiles, str):
        smiles = [smiles]
    if steps < 1:
        raise InvalidInputError(f"steps must be at least 1, got {steps}")
    if bundle.kind not in METHODS:
        raise InvalidInputError(f"cannot explain a {bundle.kind!r} model")
    method = METHODS[bundle.kind]
    mols, errors = bundle.parse(list(smiles))
    k = len(bundle.targets)
    out = []
    for smi, mol, error in zip(smiles, mols, errors, strict=True):
        if mol is None:
            out.append(MolExplanation(smi, None, bundle.targets, np.zeros((0, k)), np.zeros(k),
                                      None, method, error or "not a valid molecule"))  # fmt: skip
            continue
        if bundle.kind == "mpnn":
            weights, pred, base = _integrated_gradients(bundle, mol, steps)
            out.append(MolExplanation(smi, mol, bundle.targets, weights, pred, base, method))
        else:
            weights, pred = _masking(bundle, mol)
            out.append(MolExplanation(smi, mol, bundle.targets, weights, pred, None, method))
    return out


def explain_report(
    explanations: Sequence[MolExplanation], bundle: MolBundle, ids: Sequence[str] | None = None
) -> Report:
    """HTML report: a similarity map per molecule and target, with its prediction.

    Maps are embedded as PNG (Cairo) to keep the page small; :meth:`MolExplanation.svg` gives
    the SVG.
    """
    import base64
    import html

    from medai.core import report as rp
    from medai.molecules.draw import similarity_map

    names = list(ids) if ids is not None else [e.smiles for e in explanations]
    if len(names) != len(explanations):
        raise InvalidInputError(f"{len(names)} ids for {len(explanations)} explanations")
    method = METHODS[bundle.kind]
    report = rp.Report("medai mol explain",
                       f"{bundle.kind} model of {', '.join(bundle.targets)}: {method}")  # fmt: skip
    unit = "probability of class 1" if bundle.classification else "target units"
    intro = (f"<p>Red atoms raise the prediction, blue atoms lower it ({unit}); colours are "
             "scaled per molecule by its largest contribution. "
             + ("Integrated gradients: the weights add up to the prediction minus the "
                "prediction for an empty graph (baseline)." if bundle.kind == "mpnn" else
                "Fingerprint-bit masking: an atom's weight is the prediction minus the "
                "prediction without the Morgan environments that contain it.") + "</p>")  # fmt: skip
    report.add("Method", intro)
    for j, target in enumerate(bundle.targets):
        cells = []
        for name, e in zip(names, explanations, strict=True):
            label = html.escape(str(name)[:60])
            if e.mol is None:
                cells.append(f'<div class="fig"><p><b>{label}</b>: {html.escape(str(e.error))}'
                             "</p></div>")  # fmt: skip
                continue
            png = similarity_map(e.mol, e.weights[:, j], size=(300, 260), fmt="png",
                                 resolution=0.1)  # fmt: skip
            data = base64.b64encode(png if isinstance(png, bytes) else png.encode()).decode()
            extra = "" if e.baseline is None else f", baseline {e.baseline[j]:.3f}"
            cells.append(
                f'<div class="fig" style="display:inline-block;margin:4px">'
                f'<img alt="similarity map of {label}" width="300" '
                f'src="data:image/png;base64,{data}"><br><b>{label}</b>: '
                f"{bundle.column(target)} {e.prediction[j]:.3f}{extra}</div>"
            )
        report.add(f"Per-atom contributions to {target}", "".join(cells))
    return report
