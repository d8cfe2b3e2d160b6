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


def scores(rule, momentum=None, threshold=1e-3):
    signals = Signals({}, set(), 0.9, torch.Generator())
    signals.momentum = momentum or {}
    return REDISTRIBUTION.get(rule).fn(WEIGHTS, MASKS, signals=signals, threshold=threshold)


def test_rule_scores_on_known_tensors():
    assert scores("none") is None
    # kept |w| above tau = 1e-3: a: 1, 3; b: 0.5, 0.5 (its kept 0 does not count)
    assert scores("nonzeros") == {"a": 2.0, "b": 2.0}
    # mean |w| over kept entries: a: (1 + 3) / 2; b: (0.5 + 0.5 + 0) / 3
    got = scores("magnitude")
    assert got["a"] == pytest.approx(2.0) and got["b"] == pytest.approx(1 / 3)
    momentum = {"a": torch.tensor([[2.0, -4.0], [100.0, 100.0]]), "b": torch.tensor([[1.0, 0.0], [-2.0, 50.0]])}
    got = scores("momentum", momentum)
    assert got["a"] == pytest.approx(3.0) and got["b"] == pytest.approx(1.0)


def test_nonzeros_counts_kept_weights_above_the_shared_threshold():
    # b's two 0.5s are not above 0.5; a's 1 is not above 2; the unkept 5 in a never counts
    assert scores("nonzeros", threshold=0.5) == {"a": 2.0, "b": 0.0}
    assert scores("nonzeros", threshold=2.0) == {"a": 1.0, "b": 0.0}
    assert scores("nonzeros", threshold=10.0) == {"a": 0.0, "b": 0.0}


class Pair(torch.nn.Module):
    """Two masked matrices of one shape, `a` and `b`."""

    def __init__(self, rows, cols):
        super().__init__()
        self.a = torch.nn.Parameter(torch.zeros(rows, cols))
        self.b = torch.nn.Parameter(torch.zeros(rows, cols))

    def sparsifiable(self):
        return {"a": ("recurrent", self.a), "b": ("recurrent", self.b)}


@pytest.mark.parametrize("rule,expected_shares", [
    # Two tensors hold 16 + 16 entries; 8 + 8 kept; death rate 0.5 removes 4 + 4 = 8 in total.
    ("none", {"a": 4, "b": 4}),               # each regrows what it lost
    ("nonzeros", {"a": 4, "b": 4}),           # equal kept counts
    ("magnitude", {"a": 2, "b": 6}),          # mean |w| 1 : 3
])
def test_engine_allocates_regrowth_as_the_rule_says(rule, expected_shares):
    model = Pair(4, 4)
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


def pair_engine(a_row, b_row, **cfg):
    """Engine over a 2 x 4 `Pair` with row 0 of each tensor kept, holding the given values (8 of 16)."""
    model = Pair(2, 4)
    engine = SparseEngine(model, SparseConfig(sparsity=0.5, death_rate=0.5, death_rate_schedule="constant",
                                              **cfg), epochs=5, steps_per_epoch=1, seed=0)
    engine.apply()
    state = engine.state_dict()
    state["masks"] = {n: torch.tensor([[True] * 4, [False] * 4]) for n in ("a", "b")}
    with torch.no_grad():
        model.a[0] = torch.tensor(a_row)
        model.b[0] = torch.tensor(b_row)
    engine.load_state_dict(state)
    return model, engine


def kept_counts(engine):
    return {n: int(m.sum()) for n, m in engine.masks.items()}


def test_threshold_death_shares_regrowth_even_under_none():
    # tau = 1e-3 kills a's three small weights, none of b's: R = 3 < 0.98 * E (E = 2 + 2), tau doubles.
    # The released code tests death "threshold" before redistribution "none": the 3 are shared out
    # equally (scores 1, 1: quotas 1.5, 1.5, the tied remainder to the earlier tensor): a 2, b 1.
    _, engine = pair_engine([0.0005, 0.0006, 0.0007, 0.5], [0.4, 0.5, 0.6, 0.7],
                            death="threshold", redistribution="none")
    record = engine.end_of_epoch(1, None)
    assert record["removed"] == 3 and record["threshold"] == 1e-3
    assert kept_counts(engine) == {"a": 1 + 2, "b": 4 + 1}
    assert engine.death_state["threshold"] == 2e-3
    # magnitude death with "none": each tensor regrows what it lost (2 and 2)
    _, engine = pair_engine([0.0005, 0.0006, 0.0007, 0.5], [0.4, 0.5, 0.6, 0.7],
                            death="magnitude", redistribution="none")
    engine.end_of_epoch(1, None)
    assert kept_counts(engine) == {"a": 4, "b": 4}


def test_nonzeros_after_global_magnitude_counts_above_the_tau_it_left():
    model, engine = pair_engine([0.01, 0.02, 0.03, 0.9], [0.5, 0.6, 0.7, 0.8],
                                death="global_magnitude", redistribution="nonzeros")
    # Update 1, tau = 1e-3: scores 4, 4. Global magnitude removes 0.01, 0.02, 0.03 (a) and 0.5 (b),
    # leaving tau = 0.5; the 4 regrown are shared 2 : 2 and start at 0.0.
    first = engine.end_of_epoch(1, None)
    assert first["threshold"] == 1e-3 and first["removed"] == 4
    assert kept_counts(engine) == {"a": 1 + 2, "b": 3 + 2}
    assert engine.death_state["threshold"] == pytest.approx(0.5)
    # Update 2 (weights unchanged): scores count kept |w| > 0.5: a 1 (0.9), b 3 (0.6, 0.7, 0.8),
    # not the kept counts 3 and 5. The 4 smallest kept are the 4 regrown zeros; R = 4 is split 1 : 3.
    second = engine.end_of_epoch(2, None)
    assert second["threshold"] == pytest.approx(0.5) and second["removed"] == 4
    assert kept_counts(engine) == {"a": 1 + 1, "b": 3 + 3}
    # (counting kept entries, 3 : 5, would have split it 2 : 2)
    assert apportion(4, {"a": 3.0, "b": 5.0}, {"a": 7, "b": 5}) == {"a": 2, "b": 2}
