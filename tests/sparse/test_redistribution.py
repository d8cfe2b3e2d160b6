"""Redistribution: each rule's scores, and the capped integer allocation of the regrowth."""

from __future__ import annotations

import pytest
import torch

from hyperprune.sparse import REDISTRIBUTION, SparseConfig, SparseEngine, apportion
from hyperprune.sparse.signals import Signals


def test_apportion_proportional_with_largest_remainders():
    assert apportion(8, {"a": 1.0, "b": 3.0}, {"a": 10, "b": 10}) == {"a": 2, "b": 6}
    # quotas 10/3 each: floors 3 + 3 + 3 = 9, the one left goes to the earliest name on a tie
    assert apportion(10, {"a": 1, "b": 1, "c": 1}, {"a": 9, "b": 9, "c": 9}) == {"a": 4, "b": 3, "c": 3}
    # quotas 1.4, 2.8, 4.8 -> floors 1, 2, 4; two left go to the largest remainders b (.8), c (.8)
    assert apportion(9, {"a": 1.4, "b": 2.8, "c": 4.8}, {"a": 9, "b": 9, "c": 9}) == {"a": 1, "b": 3, "c": 5}


def test_apportion_caps_and_passes_leftovers_on():
    # b's quota 6 exceeds its capacity 4: b gets 4, the other 4 go to a (then capped at 3), then c
    assert apportion(8, {"a": 1.0, "b": 3.0, "c": 0.0}, {"a": 3, "b": 4, "c": 5}) == {"a": 3, "b": 4, "c": 1}
    assert apportion(12, {"a": 1.0, "b": 3.0, "c": 0.0}, {"a": 3, "b": 4, "c": 5}) == {"a": 3, "b": 4, "c": 5}


def test_apportion_zero_or_nan_scores_fall_back_to_capacity():
    assert apportion(3, {"a": 0.0, "b": float("nan")}, {"a": 1, "b": 2}) == {"a": 1, "b": 2}
    # proportional to capacity 1 : 3 -> quotas 0.5, 1.5; the tied remainder goes to the earlier name
    assert apportion(2, {"a": 0.0, "b": -1.0}, {"a": 1, "b": 3}) == {"a": 1, "b": 1}
    with pytest.raises(ValueError):
        apportion(4, {"a": 1.0}, {"a": 3})


WEIGHTS = {"a": torch.tensor([[1.0, -3.0], [0.0, 5.0]]), "b": torch.tensor([[0.5, 0.5], [0.0, 0.0]])}
MASKS = {"a": torch.tensor([[True, True], [False, False]]), "b": torch.tensor([[True, True], [True, False]])}


def scores(rule, momentum=None):
    signals = Signals({}, set(), 0.9, torch.Generator())
    signals.momentum = momentum or {}
    return REDISTRIBUTION.get(rule).fn(WEIGHTS, MASKS, signals=signals)


def test_rule_scores_on_known_tensors():
    assert scores("none") is None
    assert scores("nonzeros") == {"a": 2.0, "b": 3.0}
    # mean |w| over kept entries: a: (1 + 3) / 2; b: (0.5 + 0.5 + 0) / 3
    got = scores("magnitude")
    assert got["a"] == pytest.approx(2.0) and got["b"] == pytest.approx(1 / 3)
    momentum = {"a": torch.tensor([[2.0, -4.0], [100.0, 100.0]]), "b": torch.tensor([[1.0, 0.0], [-2.0, 50.0]])}
    got = scores("momentum", momentum)
    assert got["a"] == pytest.approx(3.0) and got["b"] == pytest.approx(1.0)


@pytest.mark.parametrize("rule,expected_shares", [
    # Two tensors hold 16 + 16 entries; 8 + 8 kept; death rate 0.5 removes 4 + 4 = 8 in total.
    ("none", {"a": 4, "b": 4}),               # each regrows what it lost
    ("nonzeros", {"a": 4, "b": 4}),           # equal kept counts
    ("magnitude", {"a": 2, "b": 6}),          # mean |w| 1 : 3
])
def test_engine_allocates_regrowth_as_the_rule_says(rule, expected_shares):
    class Two(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.zeros(4, 4))
            self.b = torch.nn.Parameter(torch.zeros(4, 4))

        def sparsifiable(self):
            return {"a": ("recurrent", self.a), "b": ("recurrent", self.b)}

    model = Two()
    cfg = SparseConfig(sparsity=0.5, redistribution=rule, death_rate=0.5,
                       death_rate_schedule="constant", update_every=1)
    engine = SparseEngine(model, cfg, epochs=2, steps_per_epoch=1, seed=0)
    engine.apply()
    with torch.no_grad():
        model.a.copy_(engine.masks["a"].float() * 1.0)
        model.b.copy_(engine.masks["b"].float() * 3.0)
    before = {n: m.clone() for n, m in engine.masks.items()}
    engine.after_step(None)
    for n in ("a", "b"):
        survivors = 4
        assert int(engine.masks[n].sum()) == survivors + expected_shares[n]
        assert int((engine.masks[n] & before[n]).sum()) >= survivors
    assert sum(int(m.sum()) for m in engine.masks.values()) == 16
