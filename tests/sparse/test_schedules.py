"""Death-rate schedules and the progress at which the engine evaluates them."""

from __future__ import annotations

import math

import pytest

from hyperprune.sparse import SCHEDULE, SparseConfig, SparseEngine


def test_cosine_values():
    cosine = SCHEDULE.get("cosine").fn
    assert cosine(0.5, 0, 10, 0.0) == pytest.approx(0.5)
    assert cosine(0.5, 5, 10, 0.0) == pytest.approx(0.25)
    assert cosine(0.5, 2.5, 10, 0.0) == pytest.approx(0.25 * (1 + math.sqrt(0.5)))
    assert cosine(0.5, 10, 10, 0.0) == 0.0
    assert cosine(0.5, 12, 10, 0.0) == 0.0


def test_cosine_floor_is_selfish_rnns_eta_min():
    # CosineAnnealingLR(eta_min=0.005): 0.005 + (0.5 - 0.005) * (1 + cos(pi t / T)) / 2
    cosine = SCHEDULE.get("cosine").fn
    assert cosine(0.5, 0, 10, 0.005) == pytest.approx(0.5)
    assert cosine(0.5, 5, 10, 0.005) == pytest.approx(0.2525)
    assert cosine(0.5, 10, 10, 0.005) == pytest.approx(0.005)
    assert cosine(0.5, 30, 10, 0.005) == pytest.approx(0.005)          # held past the horizon
    assert cosine(0.0, 5, 10, 0.005) == 0.0                            # a zero rate stays zero
    assert cosine(0.003, 5, 10, 0.005) == pytest.approx(0.003)         # never raised to the floor


def test_linear_and_constant_values():
    assert SCHEDULE.get("linear").fn(0.4, 0, 8, 0.0) == pytest.approx(0.4)
    assert SCHEDULE.get("linear").fn(0.4, 6, 8, 0.0) == pytest.approx(0.1)
    assert SCHEDULE.get("linear").fn(0.4, 9, 8, 0.0) == 0.0
    assert SCHEDULE.get("linear").fn(0.4, 6, 8, 0.02) == pytest.approx(0.02 + 0.38 / 4)
    assert SCHEDULE.get("constant").fn(0.4, 100, 8, 0.005) == 0.4


def test_engine_horizon_is_decay_epochs_or_the_run(tiny_lm):
    cfg = SparseConfig(sparsity=0.5, death_rate=0.6, death_rate_floor=0.0)
    engine = SparseEngine(tiny_lm, cfg, epochs=10, steps_per_epoch=4, seed=0)
    assert engine.death_rate(5) == pytest.approx(0.3)
    cfg = SparseConfig(sparsity=0.5, death_rate=0.6, decay_epochs=4)     # default floor 0.005
    engine = SparseEngine(tiny_lm, cfg, epochs=10, steps_per_epoch=4, seed=0)
    assert engine.death_rate(2) == pytest.approx(0.3025)
    assert engine.death_rate(5) == pytest.approx(0.005)


def test_end_of_epoch_update_uses_epochs_completed_as_progress(tiny_lm):
    cfg = SparseConfig(sparsity=0.5, death_rate=0.5, death_rate_schedule="cosine", death_rate_floor=0.0)
    engine = SparseEngine(tiny_lm, cfg, epochs=4, steps_per_epoch=4, seed=0)
    engine.apply()
    record = engine.end_of_epoch(1, None)     # the first epoch has ended
    assert record["progress"] == 1.0
    assert record["death_rate"] == pytest.approx(0.25 * (1 + math.cos(math.pi / 4)))


def test_step_updates_use_fractional_progress(tiny_lm):
    cfg = SparseConfig(sparsity=0.5, death_rate=0.5, death_rate_schedule="linear", update_every=2,
                       death_rate_floor=0.0)
    engine = SparseEngine(tiny_lm, cfg, epochs=2, steps_per_epoch=4, seed=0)
    engine.apply()
    records = [engine.after_step(None) for _ in range(4)]
    assert records[0] is None and records[2] is None
    assert records[1]["progress"] == pytest.approx(0.5) and records[1]["death_rate"] == pytest.approx(0.375)
    assert records[3]["progress"] == pytest.approx(1.0)
    engine.end_of_epoch(1, None)
    record = [engine.after_step(None) for _ in range(2)][1]
    assert record["progress"] == pytest.approx(1.5)
