"""What a training run says while it runs: progress inside an epoch, and one line per epoch.

The trainer reports events (a step done, an epoch done, NT-ASGD switched); this module decides how
they look, so no console code sits in the training loop.

Inside an epoch: on a terminal (stderr is a TTY) a tqdm bar with loss, tokens/s and ETA; anywhere
else one plain line each time another `every` fraction of the epoch is done (10 lines per epoch at
the default 10%), so a log file gets no bar noise. Lines go to `sys.stdout` as it is when printed,
so `hyperprune train --json` can send them to stderr by redirecting stdout.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Callable

from tqdm import tqdm

from hyperprune.perplexity import perplexity


def clock(seconds: float) -> str:
    """h:mm:ss."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def seconds_left(done: float, planned: float, spent_s: float) -> float | None:
    """Seconds left when the work still planned goes at the pace of the work done so far: an epoch's
    batches here, a search's candidate and dense epochs in `search.console` and `status.search`.
    None until something is done (no pace yet); 0 once `done` reaches `planned`.

    >>> seconds_left(done=3, planned=10, spent_s=60.0)
    140.0
    """
    return max(planned - done, 0) * spent_s / done if done else None


class EpochProgress:
    """Progress of one epoch. `update(fraction, tokens, mean_loss)` after each step: `fraction` of the
    epoch's data done, tokens trained so far, and a callable giving the mean loss so far (called only
    when something is shown: reading a loss on a GPU forces a sync)."""

    def __init__(self, epoch: int, steps: int, *, mode: str, every: float = 0.1, label: str = ""):
        if mode not in ("bar", "lines", "off"):
            raise ValueError(f"progress mode {mode!r}")
        self.epoch, self.steps, self.mode, self.every = epoch, steps, mode, every
        self.label = f"{label} " if label else ""
        self.start = time.perf_counter()
        self.step = 0
        self.lines = 0                        # milestones printed (lines mode)
        self.milestones = max(1, round(1 / every)) if every > 0 else 0
        self._bar = None
        if mode == "bar":
            self._bar = tqdm(total=steps, desc=f"{self.label}epoch {epoch}", leave=False, unit="batch",
                             dynamic_ncols=True, file=sys.stderr)

    def update(self, fraction: float, tokens: int, mean_loss: Callable[[], float]) -> None:
        self.step += 1
        if self._bar is not None:
            self._bar.update(1)
            if self.step % 20 == 0:
                loss = mean_loss()
                self._bar.set_postfix(loss=f"{loss:.3f}", ppl=f"{perplexity(loss):.1f}",
                                      tok_s=f"{tokens / self.elapsed():.0f}")
            return
        if self.mode != "lines" or not self.milestones:
            return
        reached = min(self.milestones, math.floor(fraction * self.milestones + 1e-9))
        if reached > self.lines:
            self.lines = reached
            self._line(reached / self.milestones, fraction, tokens, mean_loss())

    def elapsed(self) -> float:
        return max(time.perf_counter() - self.start, 1e-9)

    def _line(self, milestone: float, fraction: float, tokens: int, loss: float) -> None:
        seconds = self.elapsed()
        eta = seconds_left(fraction, 1.0, seconds)
        print(f"{self.label}epoch {self.epoch:3d} | {100 * milestone:3.0f}% | batch {self.step:,}/"
              f"~{self.steps:,} | loss {loss:.3f} | ppl {perplexity(loss):9.2f} | {tokens / seconds:8.0f} tok/s | "
              f"ETA {clock(eta) if eta is not None else '?'}", flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class TrainingConsole:
    """The console side of a Trainer: progress bars or lines, and the per-epoch summary line.

    `progress`: True (a bar), False (nothing inside an epoch), "lines", or None (a bar when stderr is
    a terminal, else lines when `verbose`)."""

    def __init__(self, *, verbose: bool = True, progress: bool | str | None = None, every: float = 0.1,
                 label: str = ""):
        self.verbose = verbose
        self.every = every
        self.label = label
        if progress is None:
            progress = "bar" if sys.stderr.isatty() else ("lines" if verbose else "off")
        elif progress is True:
            progress = "bar"
        elif progress is False:
            progress = "off"
        self.mode = progress

    def epoch_progress(self, epoch: int, steps: int) -> EpochProgress:
        return EpochProgress(epoch, steps, mode=self.mode, every=self.every, label=self.label)

    def averaging_started(self, epoch: int, nonmono: int) -> None:
        if self.verbose:
            print(f"epoch {epoch}: validation stalled for {nonmono} epochs; switching to averaged SGD", flush=True)

    def epoch_done(self, record) -> None:
        if self.verbose:
            print(f"{self.label}epoch {record.epoch:3d} | lr {record.lr:.4g} | train ppl "
                  f"{perplexity(record.train_loss, 'train'):9.2f} | valid ppl "
                  f"{perplexity(record.valid_loss, 'valid'):9.2f} | "
                  f"{record.tokens_per_s:8.0f} tok/s | {record.wall_s:6.1f} s", flush=True)
