"""What every medai training loop shares: keep the best state, stop early."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["EarlyStopping", "torch_threads"]


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads (``None``: as set), restoring the setting after."""
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class EarlyStopping:
    """Keeps a network's state from its best validation score and says when to stop.

    Parameters
    ----------
    net : torch.nn.Module
    best : float
        Score to beat (a new best needs a strictly higher score).
    patience : int, optional
        Epochs without a new best before stopping; None never stops for that.
    max_seconds : float, optional
        Training budget from construction; None for no limit.
    keep_initial : bool
        Start from a copy of the initial state, so :meth:`restore` always has one.
    """

    def __init__(
        self,
        net: Any,
        *,
        best: float = -math.inf,
        patience: int | None = None,
        max_seconds: float | None = None,
        keep_initial: bool = True,
    ) -> None:
        self.net = net
        self.best = best
        self.patience = patience
        self.max_seconds = max_seconds
        self.state = copy.deepcopy(net.state_dict()) if keep_initial else None
        self.epoch = 0
        self.wait = 0
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since construction."""
        return time.perf_counter() - self.start

    def step(self, score: float, epoch: int) -> bool:
        """Record an epoch's validation score; True when training should stop."""
        if score > self.best:
            self.best, self.state, self.epoch, self.wait = (
                score, copy.deepcopy(self.net.state_dict()), epoch, 0,
            )  # fmt: skip
        else:
            self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            return True
        return self.max_seconds is not None and self.elapsed() >= self.max_seconds

    def restore(self) -> None:
        """Load the best state kept (if any) and put the network in eval mode."""
        if self.state is not None:
            self.net.load_state_dict(self.state)
        self.net.eval()
