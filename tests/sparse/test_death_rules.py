"""Each death rule on hand-made tensors whose right answer is known."""

from __future__ import annotations

import pytest
import torch

from hyperprune.sparse import DEATH, SparseConfig, removal_count
from hyperprune.sparse.death.threshold import next_threshold

# Flat indices:          0     1     2     3      4     5     6     7
W = torch.tensor([[0.5, -0.1, 0.2, -0.9], [0.05, -0.3, 0.7, -0.02]])
ALL = torch.ones(2, 4, dtype=torch.bool)
CFG = SparseConfig(sparsity=0.5)


def removed(rule, weight=W, mask=ALL, rate=0.5, state=None):
    state = {"threshold": CFG.threshold_init} if state is None else state
    new = DEATH.get(rule).fn({"w": weight}, {"w": mask}, rate, state=state, cfg=CFG)["w"]
    assert not bool((new & ~mask).any())
    return sorted((mask & ~new).flatten().nonzero().flatten().tolist())


def test_removal_count_is_ceil_with_float_guard():
    assert removal_count(0.5, 8) == 4
    assert removal_count(0.3, 10) == 3          # 0.3 * 10 = 3.0000000000000004 in floats
    assert removal_count(0.25, 10) == 3         # ceil(2.5)
    assert removal_count(0.01, 5) == 1          # any positive rate removes at least one
    assert removal_count(0.0, 5) == 0
    assert removal_count(1.0, 5) == 5


def test_magnitude_removes_smallest_absolute_values():
    # |w| sorted: 0.02 (7), 0.05 (4), 0.1 (1), 0.2 (2), 0.3 (5), ...
    assert removed("magnitude") == [1, 2, 4, 7]
    assert removed("magnitude", rate=0.25) == [4, 7]


def test_set_textbook_is_magnitude_order():
    assert removed("SET") == removed("magnitude") == [1, 2, 4, 7]


def test_set_signed_removes_smallest_positive_and_most_negative():
    # k = 4: ceil(4/2) = 2 smallest positives 0.05 (4), 0.2 (2); 2 most negative -0.9 (3), -0.3 (5).
    # The negatives closest to zero (-0.02, -0.1) survive.
    assert removed("SET-signed") == [2, 3, 4, 5]
    # k = ceil(0.375 * 8) = 3: two positives (ceil(3/2)) 0.05, 0.2; one negative -0.9.
    assert removed("SET-signed", rate=0.375) == [2, 3, 4]


def test_set_signed_short_side_is_made_up_by_the_other():
    w = torch.tensor([[0.4, 0.1, 0.3, -0.5]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    # k = 4 would take 2 negatives, but only one exists: the positives supply three.
    assert removed("SET-signed", weight=w, mask=mask, rate=1.0) == [0, 1, 2, 3]
    # k = ceil(0.75 * 4) = 3: 2 positives (0.1, 0.3) + 1 negative (-0.5)
    assert removed("SET-signed", weight=w, mask=mask, rate=0.75) == [1, 2, 3]


def test_set_signed_counts_kept_zeros_as_smallest_non_negative():
    w = torch.tensor([[0.0, 0.1, -0.2, -0.3]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert removed("SET-signed", weight=w, mask=mask, rate=0.5) == [0, 3]


def test_rules_only_remove_kept_entries():
    mask = torch.tensor([[True, False, True, True], [False, True, True, True]])   # 6 kept
    # kept |w|: 0.5 (0), 0.2 (2), 0.9 (3), 0.3 (5), 0.7 (6), 0.02 (7); k = 3 -> 7, 2, 5
    assert removed("magnitude", mask=mask) == [2, 5, 7]
    # positives kept: 0.5, 0.2, 0.7 -> two smallest: 2, 0; negatives kept: -0.9, -0.3, -0.02 -> -0.9
    assert removed("SET-signed", mask=mask) == [0, 2, 3]


def test_ties_go_to_lower_index():
    w = torch.tensor([[0.1, -0.1, 0.1, 0.1]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert removed("magnitude", weight=w, mask=mask, rate=0.5) == [0, 1]


def test_global_magnitude_uses_one_threshold_across_tensors():
    weights = {"a": torch.tensor([[0.01, 0.02], [0.03, 0.9]]), "b": torch.tensor([[0.5, 0.6], [0.7, 0.8]])}
    masks = {n: torch.ones(2, 2, dtype=torch.bool) for n in weights}
    new = DEATH.get("global_magnitude").fn(weights, masks, 0.5, state={}, cfg=CFG)
    # 8 kept, remove 4 smallest overall: 0.01, 0.02, 0.03 from `a`, 0.5 from `b`.
    assert new["a"].tolist() == [[False, False], [False, True]]
    assert new["b"].tolist() == [[False, True], [True, True]]
    # per-tensor magnitude would take two from each
    per_tensor = DEATH.get("magnitude").fn(weights, masks, 0.5, state={}, cfg=CFG)
    assert [int(m.sum()) for m in per_tensor.values()] == [2, 2]


def test_threshold_removes_at_or_below_tau_and_steers_tau_for_the_next_update():
    """The released code's rule: remove |w| <= tau (one tau), then double / halve tau when fewer /
    more than E = sum ceil(rate * kept) were removed, beyond the 2% tolerance."""
    #                  0       1        2       3        4       5      6     7    8    9
    w = torch.tensor([0.0004, -0.0009, 0.0012, -0.0015, 0.0018, 0.0019, 0.05, -0.3, 0.7, 0.9])
    mask = torch.ones(10, dtype=torch.bool)
    state = {"threshold": 1e-3}
    taus, removed_sets = [state["threshold"]], []
    for _ in range(3):
        new = DEATH.get("threshold").fn({"w": w}, {"w": mask}, 0.3, state=state, cfg=CFG)["w"]
        removed_sets.append((mask & ~new).nonzero().flatten().tolist())
        taus.append(state["threshold"])
        mask = new
    # 1: 10 kept, E = 3; |w| <= 0.001 removes 2 < 2.94: tau doubles
    # 2:  8 kept, E = ceil(2.4) = 3; |w| <= 0.002 removes 4 > 3.06: tau halves
    # 3:  4 kept, E = ceil(1.2) = 2; |w| <= 0.001 removes none: tau doubles
    assert removed_sets == [[0, 1], [2, 3, 4, 5], []]
    assert taus == [1e-3, 2e-3, 1e-3, 2e-3]


def test_threshold_is_one_tau_across_tensors_and_the_rate_does_not_set_the_count():
    weights = {"a": torch.tensor([0.0001, 0.0002, 0.0003, 0.5]), "b": torch.tensor([0.4, 0.5, 0.6, 0.7])}
    masks = {n: torch.ones(4, dtype=torch.bool) for n in weights}
    for rate in (0.25, 0.75):           # E = 2 and E = 6: the same three die either way
        state = {"threshold": 1e-3}
        new = DEATH.get("threshold").fn(weights, masks, rate, state=state, cfg=CFG)
        assert new["a"].tolist() == [False, False, False, True] and bool(new["b"].all())
        assert state["threshold"] == (5e-4 if rate == 0.25 else 2e-3)


def test_threshold_keeps_tau_within_the_tolerance():
    assert next_threshold(1e-3, removed=99, expected=101, tolerance=0.02) == 1e-3     # 99 >= 98.98
    assert next_threshold(1e-3, removed=98, expected=101, tolerance=0.02) == 2e-3
    assert next_threshold(1e-3, removed=104, expected=101, tolerance=0.02) == 5e-4    # 104 > 103.02
    assert next_threshold(1e-3, removed=1, expected=0, tolerance=0.02) == 5e-4        # rate 0


def test_global_magnitude_leaves_the_largest_removed_magnitude_as_tau():
    weights = {"a": torch.tensor([[0.01, 0.02], [0.03, 0.9]]), "b": torch.tensor([[0.5, 0.6], [0.7, 0.8]])}
    masks = {n: torch.ones(2, 2, dtype=torch.bool) for n in weights}
    state = {"threshold": 1e-3}
    DEATH.get("global_magnitude").fn(weights, masks, 0.5, state=state, cfg=CFG)
    assert state["threshold"] == pytest.approx(0.5)
    DEATH.get("global_magnitude").fn(weights, masks, 0.0, state=state, cfg=CFG)   # nothing removed
    assert state["threshold"] == pytest.approx(0.5)


@pytest.mark.parametrize("rule", ["magnitude", "SET", "SET-signed", "global_magnitude"])
def test_rate_zero_removes_nothing(rule):
    assert removed(rule, rate=0.0) == []
