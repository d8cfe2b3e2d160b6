"""Invariants for every combination init x death x growth x redistribution, on TinyLM.

Every combination: the global kept count equals the target after apply() and after every update;
per-tensor counts follow the init rule's formula; new entries start at exactly 0.0; pruned weights,
momentum buffers and ASGD averages stay exactly 0.0; the same seed gives the same masks; a run
restored from a state_dict continues exactly as the uninterrupted one.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from hyperprune.sparse import (
    DEATH,
    GROWTH,
    INIT,
    REDISTRIBUTION,
    SparseConfig,
    target_nonzeros,
)

COMBOS = list(itertools.product(INIT.names(), DEATH.names(), GROWTH.names(), REDISTRIBUTION.names()))
SPARSITY = 0.6      # 0.4 * 784 = 313.6 -> target 314: the rounding matters

# The init rules' density formulas, written out independently of the package.
RELATIVE_DENSITY = {
    "uniform": lambda r, c: 1.0,
    "ER": lambda r, c: (r + c) / (r * c),
    "ERK": lambda r, c: (r + c) / (r * c),
}


def formula_counts(shapes: dict, init: str, target: int) -> dict:
    """Real-valued kept counts n_i * min(1, eps * rel_i), eps found by bisection so they sum to target."""
    rel = {n: RELATIVE_DENSITY[init](*s) for n, s in shapes.items()}
    size = {n: s[0] * s[1] for n, s in shapes.items()}
    lo, hi = 0.0, 1e6
    for _ in range(200):
        eps = 0.5 * (lo + hi)
        if sum(size[n] * min(1.0, eps * rel[n]) for n in shapes) < target:
            lo = eps
        else:
            hi = eps
    return {n: size[n] * min(1.0, hi * rel[n]) for n in shapes}


def config(init, death, growth, redistribution, **extra):
    return SparseConfig(sparsity=SPARSITY, init=init, death=death, growth=growth,
                        redistribution=redistribution, death_rate=0.5, death_rate_schedule="cosine",
                        update_every=2, **extra)


def kept(engine) -> dict:
    return {n: int(m.sum()) for n, m in engine.masks.items()}


def assert_pruned_zero(run):
    for name, param in run.engine.params.items():
        pruned = ~run.engine.masks[name]
        assert torch.count_nonzero(param.detach()[pruned]) == 0, name
        for key, value in run.optimizer.state.get(param, {}).items():
            if torch.is_tensor(value) and value.shape == param.shape:
                assert torch.count_nonzero(value[pruned]) == 0, (name, key)


@pytest.mark.parametrize("init,death,growth,redistribution", COMBOS)
def test_invariants(make_run, init, death, growth, redistribution):
    run = make_run(config(init, death, growth, redistribution))
    engine = run.engine
    target = target_nonzeros(SPARSITY, 784)
    assert target == 314 == engine.target

    engine.apply()
    counts = kept(engine)
    assert sum(counts.values()) == target
    shapes = {n: tuple(p.shape) for n, p in engine.params.items()}
    for name, quota in formula_counts(shapes, init, target).items():
        assert abs(counts[name] - quota) < 1.0, (name, counts[name], quota)
    assert_pruned_zero(run)

    updates = 0
    for phase in ("sgd-momentum", "asgd"):
        if phase == "asgd":
            run.switch_to_asgd()
        for _ in range(4):
            before = {n: m.clone() for n, m in engine.masks.items()}
            counts_before = kept(engine)
            record = run.step()
            assert_pruned_zero(run)
            if record is None:
                continue
            updates += 1
            assert sum(kept(engine).values()) == target
            assert record["nonzero"] == target
            if updates == 1:
                assert record["removed"] > 0
            for name, param in engine.params.items():
                new = engine.masks[name] & ~before[name]
                assert torch.count_nonzero(param.detach()[new]) == 0, name
            if redistribution == "none" and not DEATH.get(death).shares_regrowth:
                assert kept(engine) == counts_before
    assert updates == 4
    assert len(engine.history) == 4


@pytest.mark.parametrize("init,death,growth,redistribution", COMBOS)
def test_same_seed_and_exact_resume(make_run, init, death, growth, redistribution):
    cfg = config(init, death, growth, redistribution)

    def masks_of(run):
        return {n: m.clone() for n, m in run.engine.masks.items()}

    a = make_run(cfg, seed=3)
    a.engine.apply()
    for _ in range(4):
        a.step()
    snap = a.snapshot()
    for _ in range(4):
        a.step()
    assert len(a.engine.history) == 4

    # Same seed, from scratch: the same masks at every point.
    b = make_run(cfg, seed=3)
    b.engine.apply()
    for _ in range(8):
        b.step()
    assert all(torch.equal(a.engine.masks[n], m) for n, m in masks_of(b).items())

    # Another seed and another initialisation, then the checkpoint: continues exactly like `a`.
    c = make_run(cfg, seed=99, model_seed=7)
    c.engine.apply()
    c.restore(snap)
    for _ in range(4):
        c.step()
    assert all(torch.equal(a.engine.masks[n], m) for n, m in masks_of(c).items())
    for (name, pa), pc in zip(a.model.named_parameters(), c.model.parameters()):
        assert torch.equal(pa, pc), name
    assert a.engine.history == c.engine.history
    assert math.isclose(a.engine.history[-1]["death_rate"], c.engine.history[-1]["death_rate"])
