"""Growth rules on hand-made tensors, and the signals (gradient, momentum) they read."""

from __future__ import annotations

import torch

from hyperprune.sparse import GROWTH, SparseConfig, SparseEngine
from hyperprune.sparse.death.magnitude import remove_smallest_magnitude
from hyperprune.sparse.signals import Signals


def signals_with(gradient=None, momentum=None, seed=0):
    s = Signals({}, set(), 0.9, torch.Generator().manual_seed(seed))
    s.gradient = {"w": gradient} if gradient is not None else {}
    s.momentum = {"w": momentum} if momentum is not None else {}
    return s


CANDIDATES = torch.tensor([[True, False, True, True], [True, True, False, True]])
SCORE = torch.tensor([[0.1, 9.0, -0.5, 0.2], [-0.7, 0.05, 8.0, 0.3]])   # 9.0 and 8.0 not candidates


def grown_indices(rule, count, signals):
    grown = GROWTH.get(rule).fn(CANDIDATES, count, name="w", signals=signals)
    assert int(grown.sum()) == count and not bool((grown & ~CANDIDATES).any())
    return sorted(grown.flatten().nonzero().flatten().tolist())


def test_gradient_growth_picks_largest_absolute_gradient_among_candidates():
    # candidate |g|: 0.1 (0), 0.5 (2), 0.2 (3), 0.7 (4), 0.05 (5), 0.3 (7)
    assert grown_indices("gradient", 3, signals_with(gradient=SCORE)) == [2, 4, 7]


def test_momentum_growth_picks_largest_absolute_momentum_among_candidates():
    assert grown_indices("momentum", 2, signals_with(momentum=SCORE)) == [2, 4]
    assert grown_indices("momentum", 6, signals_with(momentum=SCORE)) == [0, 2, 3, 4, 5, 7]


def test_random_growth_is_exact_and_reproducible():
    a = grown_indices("random", 4, signals_with(seed=5))
    b = grown_indices("random", 4, signals_with(seed=5))
    assert a == b and len(a) == 4
    # uniform over the 6 candidates: each chosen about 2/3 of the time
    gen_signals = signals_with(seed=1)
    hits = torch.zeros(8)
    for _ in range(3000):
        hits += GROWTH.get("random").fn(CANDIDATES, 4, name="w", signals=gen_signals).flatten().float()
    assert hits[1] == 0 and hits[6] == 0
    assert torch.allclose(hits[CANDIDATES.flatten()] / 3000, torch.full((6,), 4 / 6), atol=0.04)


def test_growth_rules_declare_their_signals():
    assert GROWTH.get("random").needs == ()
    assert GROWTH.get("gradient").needs == ("gradient",)
    assert GROWTH.get("momentum").needs == ("momentum",)


def test_signals_record_dense_gradient_and_momentum_before_masking(tiny_lm):
    cfg = SparseConfig(sparsity=0.5, growth="momentum", redistribution="none", momentum_decay=0.9)
    engine = SparseEngine(tiny_lm, cfg, epochs=3, steps_per_epoch=1, seed=0)
    engine.apply()
    name = "layers.0.weight_hh"
    param = engine.params[name]
    g1, g2 = torch.randn_like(param), torch.randn_like(param)
    for g in (g1, g2):
        for p in tiny_lm.parameters():
            p.grad = torch.zeros_like(p)
        param.grad = g.clone()
        engine.after_backward()
        # the gradient is left whole: clip_norm_over "all" counts the pruned entries
        assert torch.equal(param.grad, g)
    # the momentum saw the dense gradients: M = 0.9 * (0.1 * g1) + 0.1 * g2
    expected = 0.9 * (0.1 * g1) + 0.1 * g2
    assert torch.allclose(engine.signals.momentum[name], expected, atol=1e-6)
    assert engine.signals.gradient == {}        # gradient growth is not used: not recorded

    cfg = SparseConfig(sparsity=0.5, growth="gradient")
    engine = SparseEngine(tiny_lm, cfg, epochs=3, steps_per_epoch=1, seed=0)
    engine.apply()
    param.grad = g1.clone()
    engine.after_backward()
    assert torch.equal(engine.signals.gradient[name], g1)
    assert engine.signals.momentum == {}


def test_gradient_growth_in_engine_regrows_where_dense_gradient_is_largest(tiny_lm):
    cfg = SparseConfig(sparsity=0.5, death="magnitude", growth="gradient", redistribution="none",
                       death_rate=0.2, death_rate_schedule="constant", update_every=1,
                       masked=["recurrent"])
    engine = SparseEngine(tiny_lm, cfg, epochs=3, steps_per_epoch=10, seed=0)
    engine.apply()
    name = "layers.0.weight_hh"
    param = engine.params[name]
    for p in tiny_lm.parameters():
        p.grad = torch.zeros_like(p)
    grad = torch.rand_like(param)
    param.grad = grad.clone()
    old = engine.masks[name].clone()
    survivors = remove_smallest_magnitude(param.detach(), old, 0.2)
    engine.after_backward()
    engine.after_step(None)
    new = engine.masks[name]
    regrown = new & ~survivors
    k = int(regrown.sum())
    assert k == int((old & ~survivors).sum())
    candidate_grad = grad.masked_fill(survivors, -1.0).flatten()
    top = torch.sort(candidate_grad, descending=True, stable=True).indices[:k]
    assert sorted(regrown.flatten().nonzero().flatten().tolist()) == sorted(top.tolist())
