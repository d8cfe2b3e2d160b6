"""Initial per-tensor counts: each init rule's formula, exact global target, documented rounding."""

from __future__ import annotations

import pytest
import torch

from hyperprune.sparse import INIT, SparseConfig, SparseEngine, target_nonzeros


class Shapes(torch.nn.Module):
    def __init__(self, shapes):
        super().__init__()
        self.w = torch.nn.ParameterList(torch.nn.Parameter(torch.randn(*s)) for s in shapes)

    def sparsifiable(self):
        return {f"w{i}": ("recurrent", p) for i, p in enumerate(self.w)}


def counts(shapes, init, sparsity):
    engine = SparseEngine(Shapes(shapes), SparseConfig(sparsity=sparsity, init=init), epochs=1,
                          steps_per_epoch=1, seed=0)
    engine.apply()
    got = {n: int(m.sum()) for n, m in engine.masks.items()}
    assert got == engine.initial_counts()
    return list(got.values())


def test_target_rounding_is_nearest_halves_up():
    assert target_nonzeros(0.6, 784) == 314         # 313.6
    assert target_nonzeros(0.5, 5) == 3             # 2.5 -> 3
    assert target_nonzeros(0.67, 100) == 33         # (1 - 0.67) * 100 = 32.99999999999999
    assert target_nonzeros(0.0, 7) == 7


def test_er_densities_on_known_shapes():
    # (4, 4): (4+4)/16 = 1/2; (2, 8): (2+8)/16 = 5/8. Target 16 of 32: eps (8 + 10) = 16, eps = 8/9
    # -> quotas 64/9 = 7.11 and 80/9 = 8.89 -> 7 and 9 (largest remainder).
    assert counts([(4, 4), (2, 8)], "ER", 0.5) == [7, 9]
    assert counts([(4, 4), (2, 8)], "uniform", 0.5) == [8, 8]


def test_er_caps_dense_tensors_and_rescales_the_rest():
    # (2, 2): relative density 1, (10, 10): 0.2. Target 52 of 104 -> the small one would exceed 1:
    # it is dense (4), and the big one takes the remaining 48.
    assert counts([(2, 2), (10, 10)], "ER", 0.5) == [4, 48]
    assert counts([(2, 2), (10, 10)], "uniform", 0.5) == [2, 50]


def test_erk_equals_er_for_matrices_and_counts_kernel_dims_otherwise():
    shapes = [(24, 6), (32, 6), (32, 8), (24, 8)]
    assert counts(shapes, "ERK", 0.7) == counts(shapes, "ER", 0.7)
    assert INIT.get("ERK").fn((8, 4, 3, 3)) == pytest.approx((8 + 4 + 3 + 3) / (8 * 4 * 9))
    assert INIT.get("ER").fn((8, 4, 3, 3)) == pytest.approx((8 + 36) / (8 * 36))


def test_uniform_counts_are_within_one_of_the_density_and_sum_exactly():
    shapes = [(24, 6), (32, 6), (32, 8), (24, 8), (5, 7)]
    total = sum(r * c for r, c in shapes)
    got = counts(shapes, "uniform", 0.67)
    assert sum(got) == target_nonzeros(0.67, total)
    density = target_nonzeros(0.67, total) / total
    for (r, c), n in zip(shapes, got):
        assert abs(n - density * r * c) < 1


def test_masks_are_placed_uniformly_at_random():
    engine = SparseEngine(Shapes([(40, 50)]), SparseConfig(sparsity=0.5), epochs=1, steps_per_epoch=1,
                          seed=0)
    engine.apply()
    rows = engine.masks["w0"].float().mean(dim=1)
    assert 0.2 < float(rows.min()) and float(rows.max()) < 0.8
