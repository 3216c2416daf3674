"""A directed message-passing neural network (D-MPNN, Yang et al. 2019) in plain torch.

The network follows chemprop's bond message passing:

* every directed bond ``e = (v -> w)`` starts from
  ``h0_e = W_i · concat(x_v, x_e)`` and ``h_e = ReLU(h0_e)``;
* ``depth - 1`` times, the message of ``e`` is the sum of the states of the bonds arriving at
  ``v`` minus the state of the reverse bond ``w -> v``, and
  ``h_e = Dropout(ReLU(h0_e + W_h · m_e))``;
* atoms gather the states of their incoming bonds, ``a_v = Dropout(ReLU(W_o · concat(x_v,
  sum_in h)))``, and a molecule is the mean, sum or sum / 100 (``norm``) of its atom vectors;
* optional extra molecule features (normalised RDKit 2D descriptors) are concatenated before
  a feed-forward head.

Sums over bonds use ``index_add`` (no torch_geometric). Training (:func:`train_mpnn`) uses Adam
with chemprop's Noam-like schedule (linear warm-up over 2 epochs from ``lr / 10`` to ``lr``,
then exponential decay to ``lr / 10``), a loss masked where labels are missing, and early
stopping on the validation loss/metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medai.core.errors import InvalidInputError, require
from medai.core.training import EarlyStopping, torch_threads
from medai.molecules.features import ATOM_FDIM, BOND_FDIM, MolGraph, batch_graphs

require("torch", "molecules")  # this module is imported only when a D-MPNN is used
import torch  # noqa: E402
from torch import nn  # noqa: E402

__all__ = [
    "DMPNN",
    "GraphTensors",
    "MPNNConfig",
    "build_dmpnn",
    "predict_mpnn",
    "to_tensors",
    "train_mpnn",
]

Progress = Callable[[str, int, int], None]
#: Pooling of atom vectors into a molecule vector; ``norm`` is the sum / 100 (chemprop v2).
AGGREGATIONS = ("mean", "sum", "norm")
NORM = 100.0


@dataclass(frozen=True)
class GraphTensors:
    """A :class:`~medai.molecules.features.BatchGraph` as torch tensors.

    Attributes
    ----------
    atoms : torch.Tensor, shape (N_atoms, ATOM_FDIM), float32
    bonds : torch.Tensor, shape (N_bonds, BOND_FDIM), float32
    source, target, rev : torch.Tensor, shape (N_bonds,), int64
    atom_batch : torch.Tensor, shape (N_atoms,), int64
    n_mols : int
    """

    atoms: torch.Tensor
    bonds: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor
    rev: torch.Tensor
    atom_batch: torch.Tensor
    n_mols: int


def to_tensors(graphs: Sequence[MolGraph]) -> GraphTensors:
    """Batch molecular graphs (:func:`~medai.molecules.features.batch_graphs`) into tensors."""
    g = batch_graphs(graphs)
    return GraphTensors(
        atoms=torch.from_numpy(g.atom_features),
        bonds=torch.from_numpy(g.bond_features),
        source=torch.from_numpy(g.bond_source),
        target=torch.from_numpy(g.bond_target),
        rev=torch.from_numpy(g.rev_bond),
        atom_batch=torch.from_numpy(g.atom_batch),
        n_mols=g.n_mols,
    )


@dataclass(frozen=True)
class MPNNConfig:
    """Architecture of a :class:`DMPNN` (stored in the model card)."""

    n_tasks: int
    hidden: int = 300
    depth: int = 3
    dropout: float = 0.0
    ffn_hidden: int = 300
    ffn_layers: int = 2
    n_extra: int = 0
    aggregation: str = "mean"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DMPNN(nn.Module):
    """chemprop-style D-MPNN with an FFN head.

    ``forward(graph, extra)`` maps a :class:`GraphTensors` of ``n_mols`` molecules (and extra
    features of shape (n_mols, n_extra) when ``config.n_extra``) to outputs of shape
    (n_mols, n_tasks): logits for classification, standardised values for regression.
    """

    def __init__(self, config: MPNNConfig) -> None:
        super().__init__()
        if config.depth < 1 or config.hidden < 1 or config.ffn_layers < 1:
            raise InvalidInputError(f"depth, hidden and ffn_layers must be at least 1: {config}")
        if config.aggregation not in AGGREGATIONS:
            raise InvalidInputError(
                f"aggregation must be one of {AGGREGATIONS}, got {config.aggregation!r}"
            )
        self.config = config
        h = config.hidden
        self.W_i = nn.Linear(ATOM_FDIM + BOND_FDIM, h, bias=False)
        self.W_h = nn.Linear(h, h, bias=False)
        self.W_o = nn.Linear(ATOM_FDIM + h, h)
        self.dropout = nn.Dropout(config.dropout)
        layers: list[nn.Module] = []
        d_in = h + config.n_extra
        for _ in range(config.ffn_layers - 1):
            layers += [nn.Dropout(config.dropout), nn.Linear(d_in, config.ffn_hidden), nn.ReLU()]
            d_in = config.ffn_hidden
        layers += [nn.Dropout(config.dropout), nn.Linear(d_in, config.n_tasks)]
        self.ffn = nn.Sequential(*layers)

    def _gather_in(self, h: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        """Sum of the states of the bonds arriving at each atom, shape (N_atoms, hidden)."""
        out = torch.zeros(g.atoms.shape[0], h.shape[1], dtype=h.dtype)
        return out.index_add_(0, g.target, h)

    def encode(self, g: GraphTensors) -> torch.Tensor:
        """Molecule vectors, shape (n_mols, hidden)."""
        h0 = self.W_i(torch.cat([g.atoms[g.source], g.bonds], dim=1))
        h = torch.relu(h0)
        for _ in range(self.config.depth - 1):
            m = self._gather_in(h, g)[g.source] - h[g.rev]
            h = self.dropout(torch.relu(h0 + self.W_h(m)))
        atoms = torch.cat([g.atoms, self._gather_in(h, g)], dim=1)
        atoms = self.dropout(torch.relu(self.W_o(atoms)))
        mols = torch.zeros(g.n_mols, atoms.shape[1], dtype=atoms.dtype)
        mols = mols.index_add_(0, g.atom_batch, atoms)
        if self.config.aggregation == "mean":
            counts = torch.bincount(g.atom_batch, minlength=g.n_mols).clamp(min=1)
            mols = mols / counts.unsqueeze(1).to(mols.dtype)
        elif self.config.aggregation == "norm":
            mols = mols / NORM
        return mols

    def forward(self, g: GraphTensors, extra: torch.Tensor | None = None) -> torch.Tensor:
        z = self.encode(g)
        if self.config.n_extra:
            if extra is None:
                raise InvalidInputError("this D-MPNN needs its extra descriptor features")
            z = torch.cat([z, extra], dim=1)
        out: torch.Tensor = self.ffn(z)
        return out


def build_dmpnn(config: MPNNConfig) -> DMPNN:
    """A :class:`DMPNN` for ``config``."""
    return DMPNN(config)


def _noam(
    step: int, warmup: int, total: int, max_lr: float, init_lr: float, final_lr: float
) -> float:
    """chemprop's Noam-like learning rate at ``step`` (linear warm-up, exponential decay)."""
    if step < warmup:
        return init_lr + step * (max_lr - init_lr) / max(warmup, 1)
    decay_steps = max(total - warmup, 1)
    gamma = (final_lr / max_lr) ** (1.0 / decay_steps)
    return float(max_lr * gamma ** min(step - warmup, decay_steps))


def predict_mpnn(
    net: DMPNN,
    graphs: Sequence[MolGraph],
    extra: np.ndarray | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Raw network outputs (logits or standardised values), shape (n_mols, n_tasks), float64."""
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(graphs), batch_size):
            g = to_tensors(graphs[i : i + batch_size])
            e = torch.from_numpy(extra[i : i + batch_size]).float() if extra is not None else None
            out.append(net(g, e).double().numpy())
    n_tasks = int(net.config.n_tasks)
    return np.concatenate(out) if out else np.zeros((0, n_tasks))


def _masked_loss(pred: torch.Tensor, y: torch.Tensor, classification: bool) -> torch.Tensor:
    mask = ~torch.isnan(y)
    y0 = torch.where(mask, y, torch.zeros_like(y))
    if classification:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(pred, y0, reduction="none")
    else:
        loss = (pred - y0) ** 2
    loss = loss * mask
    return loss.sum() / mask.sum().clamp(min=1)


def train_mpnn(
    config: MPNNConfig,
    train_graphs: Sequence[MolGraph],
    y_train: np.ndarray,
    val_graphs: Sequence[MolGraph],
    y_val: np.ndarray,
    *,
    classification: bool,
    extra_train: np.ndarray | None = None,
    extra_val: np.ndarray | None = None,
    val_score: Callable[[np.ndarray, np.ndarray], float] | None = None,
    epochs: int = 30,
    batch_size: int = 50,
    lr: float = 1e-3,
    warmup_epochs: float = 2.0,
    patience: int | None = None,
    seed: int = 0,
    max_seconds: float | None = None,
    progress: Progress | None = None,
    step_name: str = "D-MPNN",
    num_threads: int | None = 1,
) -> tuple[DMPNN, list[dict[str, float]], int]:
    """Train one D-MPNN with a masked loss and keep the best epoch on validation.

    Parameters
    ----------
    config : MPNNConfig
    train_graphs, val_graphs : sequence of MolGraph, lengths n_train, n_val
        Precomputed graphs (:func:`~medai.molecules.features.mol_graphs`).
    y_train, y_val : numpy.ndarray, shape (n_train, n_tasks), (n_val, n_tasks)
        Targets (regression targets already standardised); NaN where missing.
    classification : bool
        Binary cross-entropy on logits (else mean squared error).
    extra_train, extra_val : numpy.ndarray, shape (n, n_extra), optional
        Normalised extra molecule features.
    val_score : callable(y, raw_pred) -> float, optional
        Validation score, higher is better (default: minus the masked validation loss).
    epochs, batch_size, lr, warmup_epochs
        Budget and Noam-like schedule (``lr`` is the peak learning rate).
    patience : int, optional
        Stop after this many epochs without improvement (default: never early).
    seed : int
        Seeds initialisation, dropout and batch order.
    max_seconds : float, optional
        Stop after this wall time (checked after each epoch).
    progress : callable(step, done, total), optional
    step_name : str
        Prefix of the progress messages.
    num_threads : int or None
        torch threads while training (restored afterwards); 1 is fastest for small molecular
        batches on shared CPUs; None leaves torch's setting.

    Returns
    -------
    net, history, best_epoch
        The network with the best validation weights loaded, one dict per epoch
        (``epoch``, ``loss``, ``val_loss``, ``val_score``), and the best epoch.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise InvalidInputError(f"epochs, batch_size and lr must be positive; got {epochs}, "
                                f"{batch_size}, {lr}")  # fmt: skip
    with torch_threads(num_threads):  # restored afterwards
        torch.manual_seed(seed)
        net = build_dmpnn(config)
        rng = np.random.default_rng(seed)
        opt = torch.optim.Adam(net.parameters(), lr=lr / 10)
        n = len(train_graphs)
        steps_per_epoch = max(1, math.ceil(n / batch_size))
        total = steps_per_epoch * epochs
        warmup = round(warmup_epochs * steps_per_epoch)
        yt = torch.from_numpy(np.asarray(y_train, dtype=np.float32))
        et = torch.from_numpy(extra_train.astype(np.float32)) if extra_train is not None else None
        history: list[dict[str, float]] = []
        stopper = EarlyStopping(net, patience=patience, max_seconds=max_seconds, keep_initial=False)
        step = 0
        for epoch in range(1, epochs + 1):
            net.train()
            perm = rng.permutation(n)
            total_loss, seen = 0.0, 0
            for i in range(0, n, batch_size):
                b = perm[i : i + batch_size]
                for group in opt.param_groups:
                    group["lr"] = _noam(step, warmup, total, lr, lr / 10, lr / 10)
                g = to_tensors([train_graphs[j] for j in b])
                bt = torch.from_numpy(b)
                pred = net(g, et[bt] if et is not None else None)
                loss = _masked_loss(pred, yt[bt], classification)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                total_loss += float(loss.item()) * len(b)
                seen += len(b)
            raw = predict_mpnn(net, val_graphs, extra_val)
            val_loss = float(
                _masked_loss(torch.from_numpy(raw).float(),
                             torch.from_numpy(np.asarray(y_val, dtype=np.float32)), classification)
            )  # fmt: skip
            score = -val_loss if val_score is None else float(val_score(y_val, raw))
            if not math.isfinite(score):
                score = -val_loss
            history.append({"epoch": epoch, "loss": total_loss / max(seen, 1),
                            "val_loss": val_loss, "val_score": score})  # fmt: skip
            if progress is not None:
                progress(f"{step_name} epoch {epoch}/{epochs} loss {total_loss / max(seen, 1):.3f} "
                         f"val loss {val_loss:.3f}", epoch, epochs)  # fmt: skip
            if stopper.step(score, epoch):
                break
        stopper.restore()
        return net, history, stopper.epoch
