"""`train.dry_run.time_steps`: bounded by steps, by an injected clock's budget, or by a short epoch,
and it never lets the trainer validate or save."""

from __future__ import annotations

import pytest

from hyperprune.train import Trainer
from hyperprune.train.dry_run import time_steps

from tests.train.test_trainer import tiny_config


class TickingClock:
    """Each reading is `tick` seconds after the previous one."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_the_budget_stops_timing_and_the_steps_in_it_are_extrapolated(tiny_corpus_dir, tmp_path):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run", train={"bptt": 2}), verbose=False,
                      progress=False)
    assert trainer.steps_per_epoch > 23
    said = []
    # start at 10 s, step n ends at 10 (n + 1) s: the 6th step ends 60 s after the start
    timing = time_steps(trainer, budget_s=60.0, clock=TickingClock(10.0), say=said.append)
    assert timing.stopped_by == "budget"
    assert timing.steps == 3                      # 6 steps, the first 3 untimed
    assert timing.seconds_per_step == pytest.approx(10.0)
    assert timing.epoch_s == pytest.approx(10.0 * trainer.steps_per_epoch)
    assert said == [f"timing: step {n} of at most 23, {10 * n} s of about 60 s" for n in range(1, 6)]
    assert "(all that fit in the 60 s budget; extrapolated)" in timing.describe()
    assert trainer.epoch == 0 and not (tmp_path / "run").exists()


def test_twenty_steps_stop_timing_before_the_budget(tiny_corpus_dir, tmp_path):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run", train={"bptt": 2}), verbose=False,
                      progress=False)
    timing = time_steps(trainer, budget_s=60.0, clock=TickingClock(0.5))
    assert (timing.stopped_by, timing.steps, timing.seconds_per_step) == ("steps", 20, pytest.approx(0.5))


def test_an_epoch_shorter_than_the_timed_steps_is_timed_whole_and_nothing_is_saved(tiny_corpus_dir, tmp_path):
    # Before: the trainer went on to validate, save a checkpoint and call the timer's `epoch_done`
    # (AttributeError), and `train --dry-run` wrote that checkpoint into the run directory.
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run", train={"bptt": 40}), verbose=False,
                      progress=False)
    steps = trainer.steps_per_epoch
    assert steps < 23
    timing = time_steps(trainer, budget_s=60.0, clock=TickingClock(1.0))
    assert (timing.stopped_by, timing.steps) == ("epoch", steps - 3)
    assert timing.seconds_per_step == pytest.approx(1.0)
    assert trainer.epoch == 0 and trainer.history == [] and not (tmp_path / "run").exists()
