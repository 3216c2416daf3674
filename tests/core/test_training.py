"""EarlyStopping: the best state is kept and restored; patience and time budgets stop."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from medai.core.training import EarlyStopping  # noqa: E402


def test_keeps_best_and_stops_on_patience() -> None:
    net = torch.nn.Linear(2, 1)
    stopper = EarlyStopping(net, best=-1.0, patience=2)
    with torch.no_grad():
        net.weight.fill_(1.0)
    assert not stopper.step(0.8, 1)  # new best: weights of one kept
    with torch.no_grad():
        net.weight.fill_(5.0)
    assert not stopper.step(0.7, 2)
    assert stopper.step(0.8, 3)  # not strictly better: second epoch without a best -> stop
    stopper.restore()
    assert stopper.epoch == 1 and stopper.best == 0.8
    assert torch.all(net.weight == 1.0) and not net.training


def test_time_budget_and_no_initial_state() -> None:
    net = torch.nn.Linear(2, 1)
    before = net.weight.detach().clone()
    stopper = EarlyStopping(net, max_seconds=0.0, keep_initial=False)
    assert stopper.state is None
    stopper.restore()  # nothing kept: the network stays as it is
    assert torch.equal(net.weight, before)
    assert stopper.step(float("-inf"), 1)  # the budget is spent, even without a new best
