"""The molecules bundle: property models (D-MPNN, LightGBM, random forest) with uncertainty and
an applicability domain.

Files of a bundle (never a pickle):

* ``member_<i>.safetensors`` — D-MPNN ensemble members (torch state dicts);
* ``lgbm_<i>_<j>.txt`` — LightGBM member ``i`` for target ``j`` (LightGBM's text format);
* ``forest_<j>.safetensors`` — random forest for target ``j`` as flat tree arrays
  (``feature``, ``threshold``, ``left``, ``right``, ``value``, ``roots``), predicted in numpy;
* ``scaler.safetensors`` — normalisation of descriptor features for the D-MPNN;
* ``domain.safetensors`` — packed Morgan bits (radius 2, 2048 bits) of the training molecules,
  for the nearest-neighbour Tanimoto similarity reported with each prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from medai.core.bundle import Bundle
from medai.core.errors import BundleError, InvalidInputError, require

if TYPE_CHECKING:
    from rdkit.Chem import Mol

    from medai.molecules.explain import MolExplanation
    from medai.molecules.mpnn import DMPNN

__all__ = [
    "KINDS",
    "TASKS",
    "DescriptorScaler",
    "Forest",
    "MolBundle",
    "fingerprint_bits",
    "max_tanimoto",
]

KINDS = ("mpnn", "lightgbm", "rf")
TASKS = ("regression", "classification", "multitask")
DOMAIN = "domain.safetensors"
SCALER = "scaler.safetensors"
AD_RADIUS = 2
AD_BITS = 2048
DEFAULT_AD_THRESHOLD = 0.3


# --- applicability domain -------------------------------------------------------------------
def fingerprint_bits(mols: Sequence[Mol]) -> np.ndarray:
    """Packed Morgan bits (radius 2, 2048 bits), shape (n, 256), uint8."""
    from medai.molecules.features import morgan

    if len(mols) == 0:
        return np.zeros((0, AD_BITS // 8), dtype=np.uint8)
    bits = morgan(mols, radius=AD_RADIUS, n_bits=AD_BITS, dtype=np.uint8)
    return np.packbits(bits, axis=1)


def max_tanimoto(query: np.ndarray, reference: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Highest Tanimoto similarity of each query fingerprint to any reference fingerprint.

    Parameters
    ----------
    query : numpy.ndarray, shape (m, n_bytes), uint8
        Packed bits (:func:`fingerprint_bits`).
    reference : numpy.ndarray, shape (n, n_bytes), uint8

    Returns
    -------
    numpy.ndarray, shape (m,), float64
        In [0, 1]; 0 for an empty reference; two empty fingerprints count as identical.
    """
    out = np.zeros(len(query), dtype=np.float64)
    if len(query) == 0 or len(reference) == 0:
        return out
    q = np.unpackbits(query, axis=1).astype(np.float32)
    q_n = q.sum(1)
    for start in range(0, len(reference), chunk):
        r = np.unpackbits(reference[start : start + chunk], axis=1).astype(np.float32)
        inter = q @ r.T
        union = q_n[:, None] + r.sum(1)[None, :] - inter
        sim = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        np.maximum(out, sim.max(1), out=out)
    return out


# --- descriptor scaling (D-MPNN + features) -------------------------------------------------
class DescriptorScaler:
    """Signed log for heavy-tailed columns, then standardisation and clipping to ±``clip``.

    Attributes
    ----------
    mean, std : numpy.ndarray, shape (n_features,), float64
    log_cols : numpy.ndarray, shape (n_features,), bool
        Columns whose training values exceed 1e4 in magnitude (``sign(x) log1p(|x|)`` first).
    """

    def __init__(
        self, mean: np.ndarray, std: np.ndarray, log_cols: np.ndarray, clip: float = 6.0
    ) -> None:
        self.mean, self.std, self.log_cols, self.clip = mean, std, log_cols, clip

    @staticmethod
    def _log(x: np.ndarray, cols: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=np.float64)
        x[~np.isfinite(x)] = 0.0
        x[:, cols] = np.sign(x[:, cols]) * np.log1p(np.abs(x[:, cols]))
        return x

    @classmethod
    def fit(cls, x: np.ndarray) -> DescriptorScaler:
        """Fit on training descriptors, shape (n, n_features)."""
        raw = np.where(np.isfinite(x), x, 0.0)
        log_cols = np.abs(raw).max(0) > 1e4
        z = cls._log(raw, log_cols)
        std = z.std(0)
        return cls(z.mean(0), np.where(std > 1e-8, std, 1.0), log_cols)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scaled features, shape (n, n_features), float32."""
        z = (self._log(x, self.log_cols) - self.mean) / self.std
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    def to_bytes(self) -> bytes:
        from safetensors.numpy import save

        return bytes(save({"mean": self.mean, "std": self.std,
                           "log_cols": self.log_cols.astype(np.uint8),
                           "clip": np.array([self.clip])}))  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> DescriptorScaler:
        from safetensors.numpy import load

        a = load(data)
        return cls(a["mean"], a["std"], a["log_cols"].astype(bool), float(a["clip"][0]))


# --- random forest as arrays ----------------------------------------------------------------
class Forest:
    """A fitted scikit-learn random forest as flat arrays, predicted without sklearn or pickle.

    Attributes
    ----------
    feature : numpy.ndarray, shape (n_nodes,), int32
        Split feature of each node (-2 at leaves).
    threshold : numpy.ndarray, shape (n_nodes,), float64
        Go left when ``x[feature] <= threshold`` (x cast to float32 as sklearn does).
    left, right : numpy.ndarray, shape (n_nodes,), int32
        Children (global node indices; -1 at leaves).
    value : numpy.ndarray, shape (n_nodes,), float64
        Leaf value: the mean target (regression) or the fraction of class 1 (classification).
    roots : numpy.ndarray, shape (n_trees,), int32
        Root node of each tree.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    @classmethod
    def from_sklearn(cls, forest: Any) -> Forest:
        """Convert a fitted ``RandomForestRegressor`` or binary ``RandomForestClassifier``."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("feature", "threshold", "left",
                                                              "right", "value")}  # fmt: skip
        roots, offset = [], 0
        classes = getattr(forest, "classes_", None)
        for est in forest.estimators_:
            t = est.tree_
            value = np.asarray(t.value, dtype=np.float64)
            if classes is not None:
                frac = value[:, 0, :] / np.maximum(value[:, 0, :].sum(1, keepdims=True), 1e-12)
                pos = list(classes).index(1) if 1 in list(classes) else None
                leaf = frac[:, pos] if pos is not None else np.zeros(len(frac))
            else:
                leaf = value[:, 0, 0]
            left = np.asarray(t.children_left, dtype=np.int64)
            right = np.asarray(t.children_right, dtype=np.int64)
            parts["feature"].append(np.asarray(t.feature, dtype=np.int32))
            parts["threshold"].append(np.asarray(t.threshold, dtype=np.float64))
            parts["left"].append(np.where(left >= 0, left + offset, -1).astype(np.int32))
            parts["right"].append(np.where(right >= 0, right + offset, -1).astype(np.int32))
            parts["value"].append(leaf)
            roots.append(offset)
            offset += t.node_count
        arrays = {k: np.concatenate(v) for k, v in parts.items()}
        arrays["roots"] = np.asarray(roots, dtype=np.int32)
        return cls(arrays)

    def predict_trees(self, x: np.ndarray) -> np.ndarray:
        """Per-tree predictions, shape (n_trees, n_samples), float64, for x of (n, n_features)."""
        a = self.arrays
        xf = np.asarray(x, dtype=np.float32)
        node = np.broadcast_to(a["roots"][:, None], (len(a["roots"]), len(xf))).copy()
        rows = np.broadcast_to(np.arange(len(xf))[None, :], node.shape)
        while True:
            inner = a["left"][node] >= 0
            if not inner.any():
                break
            f = np.where(inner, a["feature"][node], 0)
            go_left = xf[rows, f].astype(np.float64) <= a["threshold"][node]
            nxt = np.where(go_left, a["left"][node], a["right"][node])
            node = np.where(inner, nxt, node)
        out: np.ndarray = a["value"][node]
        return out

    def to_bytes(self) -> bytes:
        from safetensors.numpy import save

        return bytes(save(self.arrays))

    @classmethod
    def from_bytes(cls, data: bytes) -> Forest:
        from safetensors.numpy import load

        return cls(dict(load(data)))


# --- the bundle -----------------------------------------------------------------------------
class MolBundle(Bundle):
    """A trained molecular property model. Make one with :func:`medai.molecules.train.train`.

    Parameters
    ----------
    card : dict
        The model card; ``card["model"]`` holds ``kind``, the featuriser and the architecture,
        ``card["output"]["targets"]`` the target names.
    members : list
        D-MPNN modules, or per member a list of LightGBM boosters (one per target), or one
        :class:`Forest` per target (random forest).
    train_fingerprints : numpy.ndarray, shape (n_train, 256), uint8
        Packed Morgan bits of the training molecules (applicability domain).
    scaler : DescriptorScaler, optional
        For a D-MPNN with descriptor features.
    """

    pillar = "molecules"

    def __init__(
        self,
        card: dict[str, Any],
        members: list[Any],
        train_fingerprints: np.ndarray,
        scaler: DescriptorScaler | None = None,
        report_html: str | None = None,
    ) -> None:
        super().__init__(card, report_html)
        self.members = members
        self.train_fingerprints = train_fingerprints
        self.scaler = scaler

    # -- properties --------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return str(self.card["model"]["kind"])

    @property
    def task(self) -> str:
        return str(self.card["task"])

    @property
    def targets(self) -> list[str]:
        return list(self.card["output"]["targets"])

    @property
    def classification(self) -> bool:
        return self.task != "regression"

    @property
    def ad_threshold(self) -> float:
        return float(
            self.card.get("applicability_domain", {}).get("threshold", DEFAULT_AD_THRESHOLD)
        )

    def column(self, target: str) -> str:
        """Name of the prediction column of ``target`` (``p_`` for probabilities)."""
        return f"p_{target}" if self.classification else f"pred_{target}"

    # -- prediction on parsed molecules ------------------------------------------------------
    def tree_features(self, mols: Sequence[Mol]) -> np.ndarray:
        """Features of the tree models, shape (n, width), float32."""
        from medai.molecules.features import featurize

        m = self.card["model"]
        return featurize(mols, m["features"], **m.get("feature_params", {}))

    def mpnn_extra(self, mols: Sequence[Mol]) -> np.ndarray | None:
        """Scaled descriptor features of the D-MPNN, shape (n, n_extra), or None."""
        if self.scaler is None:
            return None
        from medai.molecules.features import featurize

        return self.scaler.transform(featurize(mols, "rdkit2d", dtype=np.float64))

    def member_predictions(self, mols: Sequence[Mol]) -> np.ndarray:
        """Predictions of every member (trees for a random forest).

        Returns
        -------
        numpy.ndarray, shape (n_members, n, n_targets), float64
            Values in target units (regression) or probabilities of class 1.
        """
        n, k = len(mols), len(self.targets)
        if n == 0:
            return np.zeros((max(len(self.members), 1), 0, k))
        if self.kind == "mpnn":
            from medai.molecules.features import mol_graphs
            from medai.molecules.mpnn import predict_mpnn

            graphs = mol_graphs(mols)
            extra = self.mpnn_extra(mols)
            raw = np.stack([predict_mpnn(net, graphs, extra) for net in self.members])
            if self.classification:
                return 1.0 / (1.0 + np.exp(-raw))
            mean = np.asarray(self.card["model"]["target_mean"], dtype=np.float64)
            std = np.asarray(self.card["model"]["target_std"], dtype=np.float64)
            return np.asarray(raw * std + mean)
        x = self.tree_features(mols)
        if self.kind == "lightgbm":
            return np.stack(
                [np.stack([b.predict(x) for b in boosters], axis=1) for boosters in self.members]
            ).astype(np.float64)
        trees = [forest.predict_trees(x) for forest in self.members]  # (n_trees, n) per target
        return np.stack(trees, axis=2)

    def predict_mols(self, mols: Sequence[Mol]) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and spread, each of shape (n, n_targets), for parsed molecules."""
        preds = self.member_predictions(mols)
        spread = preds.std(0) if len(preds) > 1 else np.zeros(preds.shape[1:])
        return preds.mean(0), spread

    def similarity(self, mols: Sequence[Mol]) -> np.ndarray:
        """Nearest-neighbour Tanimoto similarity to the training set, shape (n,)."""
        return max_tanimoto(fingerprint_bits(mols), self.train_fingerprints)

    def parse(self, smiles: Sequence[str]) -> tuple[list[Mol | None], list[str | None]]:
        """Parse (and standardise, as in training) SMILES; an error message where one fails."""
        from medai.molecules.io import parse_smiles, standardize_mol

        inp = self.card.get("input", {})
        mols, rejections = parse_smiles(list(smiles), max_atoms=inp.get("max_atoms", 1000))
        errors: list[str | None] = [None] * len(mols)
        for r in rejections:
            errors[r.row - 1] = r.reason
        out: list[Mol | None] = []
        for i, mol in enumerate(mols):
            if mol is not None and inp.get("standardize", True):
                try:
                    mol = standardize_mol(mol, tautomer=bool(inp.get("tautomer", False)))
                except Exception as exc:  # RDKit raises several types
                    errors[i] = f"standardisation failed: {exc}"
                    mol = None
            out.append(mol)
        return out, errors

    # -- verbs -------------------------------------------------------------------------------
    def predict(self, x: str | Sequence[str]) -> pd.DataFrame:
        """Predict properties of SMILES, with uncertainty and applicability domain.

        Parameters
        ----------
        x : str or sequence of str, length n

        Returns
        -------
        pandas.DataFrame, n rows
            ``smiles`` (as given), per target ``pred_<target>`` (regression) or ``p_<target>``
            (probability of class 1), ``std_<target>`` (spread of the ensemble members; of the
            trees for a random forest), ``nn_similarity`` (highest Tanimoto similarity of
            Morgan bits to a training molecule), ``in_domain`` (``nn_similarity`` at least the
            card's threshold) and ``error`` (why a SMILES could not be used; None otherwise).
            Rows with an error hold NaN predictions.
        """
        smiles = [x] if isinstance(x, str) else list(x)
        mols, errors = self.parse(smiles)
        ok = [i for i, m in enumerate(mols) if m is not None]
        good: list[Any] = [mols[i] for i in ok]
        k = len(self.targets)
        mean = np.full((len(smiles), k), np.nan)
        spread = np.full((len(smiles), k), np.nan)
        sim = np.full(len(smiles), np.nan)
        if ok:
            mean[ok], spread[ok] = self.predict_mols(good)
            sim[ok] = self.similarity(good)
        df = pd.DataFrame({"smiles": smiles})
        for j, t in enumerate(self.targets):
            df[self.column(t)] = mean[:, j]
            df[f"std_{t}"] = spread[:, j]
        df["nn_similarity"] = sim
        df["in_domain"] = np.where(np.isnan(sim), False, sim >= self.ad_threshold - 1e-12)
        df["error"] = pd.Series(errors, dtype=object)
        return df

    def explain(self, x: str | Sequence[str], *, steps: int = 32) -> list[MolExplanation]:
        """Per-atom contributions to the predictions of each SMILES.

        Integrated gradients for a D-MPNN (``steps`` steps), fingerprint-bit masking for
        LightGBM and random forests on Morgan features; see :mod:`medai.molecules.explain`.
        Each :class:`~medai.molecules.explain.MolExplanation` draws itself as a similarity map
        (``.svg()``).
        """
        from medai.molecules.explain import explain_bundle

        return explain_bundle(self, x, steps=steps)

    # -- persistence -------------------------------------------------------------------------
    def _to_files(self) -> dict[str, bytes]:
        from safetensors.numpy import save

        files: dict[str, bytes] = {DOMAIN: bytes(save({"fingerprints": self.train_fingerprints}))}
        if self.scaler is not None:
            files[SCALER] = self.scaler.to_bytes()
        if self.kind == "mpnn":
            from safetensors.torch import save as tsave

            for i, net in enumerate(self.members):
                state = {k: v.contiguous() for k, v in net.state_dict().items()}
                files[f"member_{i}.safetensors"] = bytes(tsave(state))
        elif self.kind == "lightgbm":
            for i, boosters in enumerate(self.members):
                for j, b in enumerate(boosters):
                    files[f"lgbm_{i}_{j}.txt"] = b.model_to_string().encode()
        else:
            for j, forest in enumerate(self.members):
                files[f"forest_{j}.safetensors"] = forest.to_bytes()
        return files

    @classmethod
    def _from_files(cls, card: dict[str, Any], files: dict[str, bytes]) -> MolBundle:
        from safetensors.numpy import load

        try:
            model = card["model"]
            kind, n_members = model["kind"], int(model["n_members"])
            n_targets = len(card["output"]["targets"])
            fps = load(files[DOMAIN])["fingerprints"]
            scaler = DescriptorScaler.from_bytes(files[SCALER]) if SCALER in files else None
            members: list[Any] = []
            if kind == "mpnn":
                members = [_load_mpnn(model, files[f"member_{i}.safetensors"])
                           for i in range(n_members)]  # fmt: skip
            elif kind == "lightgbm":
                lgb = require("lightgbm", "molecules")
                members = [[lgb.Booster(model_str=files[f"lgbm_{i}_{j}.txt"].decode())
                            for j in range(n_targets)] for i in range(n_members)]  # fmt: skip
            elif kind == "rf":
                members = [Forest.from_bytes(files[f"forest_{j}.safetensors"])
                           for j in range(n_targets)]  # fmt: skip
            else:
                raise BundleError(f"unknown molecule model kind {kind!r}; expected one of {KINDS}")
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            if isinstance(exc, InvalidInputError):
                raise
            raise BundleError(f"the molecules bundle's card or files are invalid ({exc})") from None
        return cls(card, members, fps, scaler)


def _load_mpnn(model: dict[str, Any], data: bytes) -> DMPNN:
    require("torch", "molecules")
    from safetensors.torch import load

    from medai.molecules.mpnn import DMPNN, MPNNConfig

    net = DMPNN(MPNNConfig(**model["mpnn"]))
    net.load_state_dict(load(data))
    net.eval()
    return net
