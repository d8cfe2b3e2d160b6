"""`--dry-run`: what a run would do and roughly how long it would take, without training it.

The estimate comes from timing real training steps of the real model on the real data: the
trainer runs its own loop, and a console that stops it after `warmup + steps` steps or once
`budget_s` seconds have passed, whichever comes first (a recipe whose steps take seconds each on
this machine is estimated from the steps that fit in the budget). The console also stops the loop
at the end of an epoch shorter than that, before validation: nothing past the first epoch's
opening steps is trained, and nothing is saved (checkpoints are written only after validation).
The first `warmup` steps are not timed (allocator, caches, threads) unless the budget leaves no
others. Validation is estimated from the same timing, as a forward pass costs about a third of a
training step per token. The clock and the budget are arguments, so a test decides when time is up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from hyperprune.train.progress import clock

TIMED_STEPS = 20
WARMUP_STEPS = 3
BUDGET_S = 60.0              # about a minute of timing, however slow a step is on this machine
PROGRESS_EVERY_S = 5.0       # a progress line at most this often while timing
FORWARD_SHARE = 1 / 3        # a forward pass's share of forward + backward + update (a rule of thumb)


class _TimingDone(Exception):
    pass


class _StepTimer:
    """Stands in for the trainer's console: records when each step ends, stops after enough steps,
    at the budget, or at the end of the epoch's steps (before validation and the checkpoint)."""

    mode = "off"

    def __init__(self, steps: int, warmup: int, budget_s: float, clock: Callable[[], float],
                 say: Callable[[str], None] | None):
        self.steps, self.warmup, self.budget_s = steps, warmup, budget_s
        self.clock, self.say = clock, say
        self.start = 0.0
        self.times: list[float] = []
        self.tokens: list[int] = []
        self.stopped_by = "epoch"        # "steps" | "budget" | "epoch" (the epoch had fewer steps)
        self._said = 0.0

    def epoch_progress(self, epoch: int, steps: int) -> "_StepTimer":
        self.start = self._said = self.clock()
        return self

    def update(self, fraction: float, tokens: int, mean_loss) -> None:
        now = self.clock()
        self.times.append(now)
        self.tokens.append(tokens)
        if len(self.times) >= self.warmup + self.steps:
            self.stopped_by = "steps"
        elif now - self.start >= self.budget_s:
            self.stopped_by = "budget"
        else:
            if self.say is not None and now - self._said >= PROGRESS_EVERY_S:
                self._said = now
                self.say(f"timing: step {len(self.times)} of at most {self.warmup + self.steps}, "
                         f"{now - self.start:.0f} s of about {self.budget_s:.0f} s")
            return
        raise _TimingDone

    def close(self) -> None:
        raise _TimingDone                # the epoch's steps are over: stop before validation and saving


@dataclass
class StepTiming:
    steps: int                 # steps timed
    seconds_per_step: float
    tokens_per_s: float
    epoch_s: float             # one training pass over the train split
    validation_s: float        # one pass over the valid split (estimated)
    stopped_by: str = "steps"  # "steps" | "budget" | "epoch": why timing ended
    budget_s: float = BUDGET_S

    @property
    def epoch_with_validation_s(self) -> float:
        return self.epoch_s + self.validation_s

    def describe(self) -> str:
        why = {"steps": "", "epoch": " (the whole epoch)",
               "budget": f" (all that fit in the {self.budget_s:.0f} s budget; extrapolated)"}[self.stopped_by]
        return f"{self.steps} step{'s' if self.steps != 1 else ''} at {self.seconds_per_step * 1000:.1f} ms{why}"


def time_steps(trainer, steps: int = TIMED_STEPS, warmup: int = WARMUP_STEPS, *, budget_s: float = BUDGET_S,
               clock: Callable[[], float] = time.perf_counter,
               say: Callable[[str], None] | None = None) -> StepTiming:
    """Time up to `steps` training steps of `trainer` after `warmup` untimed ones, or the steps that
    fit in `budget_s` seconds of `clock`. `say(line)` gets progress lines while it runs. The trainer
    trains those steps only and saves nothing; do not save it afterwards."""
    timer = _StepTimer(steps, warmup, budget_s, clock, say)
    console, trainer.console = trainer.console, timer
    try:
        trainer.train_epoch()
    except _TimingDone:
        pass
    finally:
        trainer.console = console
    n = len(timer.times)
    if n == 0:
        raise RuntimeError("the training loop ran no step to time")
    # The warm-up is left out while at least one step remains after it (a budget that fits fewer
    # steps than the warm-up keeps the later ones; a single step is timed whole).
    skip = min(warmup, n - 1)
    timed = n - skip
    since, tokens_before = (timer.times[skip - 1], timer.tokens[skip - 1]) if skip else (timer.start, 0)
    seconds = timer.times[-1] - since
    per_step = seconds / timed
    tokens = timer.tokens[-1] - tokens_before
    tokens_per_s = tokens / seconds if seconds > 0 else float("inf")
    valid_tokens = trainer.valid_data.numel()
    return StepTiming(steps=timed, seconds_per_step=per_step, tokens_per_s=tokens_per_s,
                      epoch_s=per_step * trainer.steps_per_epoch,
                      validation_s=FORWARD_SHARE * valid_tokens / tokens_per_s if tokens else 0.0,
                      stopped_by=timer.stopped_by, budget_s=budget_s)


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
        "timing_stopped_by": timing.stopped_by,
        "timing": timing.describe(),
        "seconds_per_step": timing.seconds_per_step,
        "tokens_per_s": timing.tokens_per_s,
        "epoch_s": timing.epoch_with_validation_s,
        "estimated_s": left * timing.epoch_with_validation_s,
    }


def describe_train_plan(plan: dict) -> str:
    return (f"plan: {plan['epochs_to_train']} of {plan['epochs']} epochs to train "
            f"({plan['epochs_done']} done), {plan['steps_per_epoch']:,} steps each\n"
            f"timing: {plan['timing']} ({plan['tokens_per_s']:,.0f} tok/s): about {clock(plan['epoch_s'])} per epoch with validation, "
            f"{clock(plan['estimated_s'])} in all\n"
            f"dry run: nothing was trained or written")
