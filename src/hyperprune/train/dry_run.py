"""`--dry-run`: what a run would do and roughly how long it would take, without training it.

The estimate comes from timing real training steps of the real model on the real data: the
trainer runs its own loop, and a console that stops it after `warmup + steps` steps (so nothing
past the first epoch's opening steps is trained, and nothing is saved: checkpoints are written only
at the end of an epoch). The first `warmup` steps are not timed (allocator, caches, threads).
Validation is estimated from the same timing, as a forward pass costs about a third of a training
step per token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hyperprune.train.progress import clock

TIMED_STEPS = 20
WARMUP_STEPS = 3
FORWARD_SHARE = 1 / 3        # a forward pass's share of forward + backward + update (a rule of thumb)


class _TimingDone(Exception):
    pass


class _StepTimer:
    """Stands in for the trainer's console: records when each step ends, stops after enough."""

    mode = "off"

    def __init__(self, steps: int, warmup: int):
        self.steps, self.warmup = steps, warmup
        self.times: list[float] = []
        self.tokens: list[int] = []

    def epoch_progress(self, epoch: int, steps: int) -> "_StepTimer":
        return self

    def update(self, fraction: float, tokens: int, mean_loss) -> None:
        self.times.append(time.perf_counter())
        self.tokens.append(tokens)
        if len(self.times) > self.warmup + self.steps:
            raise _TimingDone

    def close(self) -> None:
        pass


@dataclass
class StepTiming:
    steps: int                 # steps timed
    seconds_per_step: float
    tokens_per_s: float
    epoch_s: float             # one training pass over the train split
    validation_s: float        # one pass over the valid split (estimated)

    @property
    def epoch_with_validation_s(self) -> float:
        return self.epoch_s + self.validation_s


def time_steps(trainer, steps: int = TIMED_STEPS, warmup: int = WARMUP_STEPS) -> StepTiming:
    """Time `steps` training steps of `trainer` (which must not be saved afterwards)."""
    timer = _StepTimer(steps, warmup)
    console, trainer.console = trainer.console, timer
    try:
        trainer.train_epoch()
    except _TimingDone:
        pass
    finally:
        trainer.console = console
    first = min(warmup, len(timer.times) - 1)
    timed = len(timer.times) - 1 - first
    if timed < 1:          # an epoch shorter than the warm-up: time it whole
        first, timed = 0, max(len(timer.times) - 1, 1)
    seconds = (timer.times[first + timed] - timer.times[first]) if len(timer.times) > 1 else 0.0
    per_step = seconds / timed
    tokens = timer.tokens[first + timed] - timer.tokens[first] if len(timer.tokens) > 1 else 0
    tokens_per_s = tokens / seconds if seconds > 0 else float("inf")
    valid_tokens = trainer.valid_data.numel()
    return StepTiming(steps=timed, seconds_per_step=per_step, tokens_per_s=tokens_per_s,
                      epoch_s=per_step * trainer.steps_per_epoch,
                      validation_s=FORWARD_SHARE * valid_tokens / tokens_per_s if tokens else 0.0)


def train_plan(trainer, timing: StepTiming) -> dict:
    """The numbers a dry run of `hyperprune train` prints (and gives as JSON)."""
    epochs = trainer.cfg.train.epochs
    left = max(epochs - trainer.epoch, 0)
    return {
        "epochs": epochs,
        "epochs_done": trainer.epoch,
        "epochs_to_train": left,
        "steps_per_epoch": trainer.steps_per_epoch,
        "timed_steps": timing.steps,
        "seconds_per_step": timing.seconds_per_step,
        "tokens_per_s": timing.tokens_per_s,
        "epoch_s": timing.epoch_with_validation_s,
        "estimated_s": left * timing.epoch_with_validation_s,
    }


def describe_train_plan(plan: dict) -> str:
    return (f"plan: {plan['epochs_to_train']} of {plan['epochs']} epochs to train "
            f"({plan['epochs_done']} done), {plan['steps_per_epoch']:,} steps each\n"
            f"timing: {plan['timed_steps']} steps at {plan['seconds_per_step'] * 1000:.1f} ms "
            f"({plan['tokens_per_s']:,.0f} tok/s): about {clock(plan['epoch_s'])} per epoch with validation, "
            f"{clock(plan['estimated_s'])} in all\n"
            f"dry run: nothing was trained or written")
