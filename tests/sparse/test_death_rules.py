"""Each death rule on hand-made tensors whose right answer is known."""

from __future__ import annotations

import pytest
import torch

from hyperprune.sparse import DEATH, SparseConfig, removal_count
from hyperprune.sparse.death.threshold import search_threshold

# Flat indices:          0     1     2     3      4     5     6     7
W = torch.tensor([[0.5, -0.1, 0.2, -0.9], [0.05, -0.3, 0.7, -0.02]])
ALL = torch.ones(2, 4, dtype=torch.bool)
CFG = SparseConfig(sparsity=0.5)


def removed(rule, weight=W, mask=ALL, rate=0.5, state=None):
    new = DEATH.get(rule).fn({"w": weight}, {"w": mask}, rate, state={} if state is None else state,
                             cfg=CFG)["w"]
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


def test_threshold_hits_the_expected_count_and_remembers_tau():
    torch.manual_seed(0)
    w = torch.randn(50, 40)
    mask = torch.rand(50, 40) < 0.5
    kept = int(mask.sum())
    state = {}
    got = removed("threshold", weight=w, mask=mask, rate=0.3, state=state)
    expected = removal_count(0.3, kept)
    assert abs(len(got) - expected) <= CFG.threshold_tolerance * expected
    tau = state["threshold"]["w"]
    # exactly the kept entries with |w| <= tau were removed
    assert got == sorted((mask & (w.abs() <= tau)).flatten().nonzero().flatten().tolist())


def test_threshold_search_raises_and_lowers():
    magnitude = torch.arange(1, 101, dtype=torch.float32) / 100      # 0.01 .. 1.00
    for start in (1e-6, 0.5, 10.0):                                  # below, inside, above
        tau = search_threshold(magnitude, expected=30, start=start, tolerance=0.0)
        assert int((magnitude <= tau).sum()) == 30


def test_threshold_with_ties_returns_closest():
    magnitude = torch.tensor([0.1] * 6 + [0.2] * 4)
    tau = search_threshold(magnitude, expected=5, start=1e-3, tolerance=0.0)
    # 0 entries below 0.1 (miss 5) is worse than 6 at 0.1 (miss 1): tau covers the six 0.1s
    assert int((magnitude <= tau).sum()) == 6


@pytest.mark.parametrize("rule", ["magnitude", "SET", "SET-signed", "global_magnitude", "threshold"])
def test_rate_zero_removes_nothing(rule):
    assert removed(rule, rate=0.0) == []
