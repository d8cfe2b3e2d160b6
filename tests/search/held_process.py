"""Run `hyperprune ARGS` with a test hook, so a test kills a process at a chosen point, not after a delay.

    python held_process.py hold KIND EPOCH FLAG -- ARGS
        hold the process, alive and beating, at the end of the first epoch EPOCH it trains for a job of
        KIND (`dense`, `score`, `final`, `asha`): the epoch is checkpointed, the job not finished. It
        writes the job's key to FLAG, then waits for a SIGKILL.
    python held_process.py gate KIND FLAG -- ARGS
        claim no job of KIND until FLAG exists (another process is held by then), so that the held
        process is the one that runs the first such job.

A held process looks like a slow one to the others: its heartbeat goes on, its job stays RUNNING.
Tests start it with `hyperprune_process(..., hook=...)` and wait for FLAG with `wait_for`, a wait on
a condition that fails at once when a watched process ends first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from optuna.trial import TrialState

from hyperprune.cli import main
from hyperprune.search.console import SearchConsole
from hyperprune.search.jobs import JobQueue


ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def hyperprune_process(*args: str, hook: tuple[str, ...] = ()) -> subprocess.Popen:
    """`hyperprune ARGS` in a subprocess; with `hook` (`hold ...` or `gate ...`), through this script."""
    command = [__file__, *hook, "--"] if hook else ["-m", "hyperprune.cli"]
    return subprocess.Popen([sys.executable, *command, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=ENV)


def wait_for(predicate, what: str, watch: tuple[subprocess.Popen, ...] = (), guard_s: float = 300):
    """Poll `predicate` until it holds. A process in `watch` that ends first fails the wait at once,
    with its output: the condition can no longer come. `guard_s` only turns a hang into a failure."""
    deadline = time.monotonic() + guard_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for process in watch:
            if process.poll() is not None:
                raise AssertionError(f"a process ended (exit {process.returncode}) before {what}:\n"
                                     f"{process.communicate()[0]}")
        time.sleep(0.05)
    raise AssertionError(f"no {what} after {guard_s:.0f} s (a hang)")


def hold(kind: str, epoch: int, flag: Path) -> None:
    shown = SearchConsole.epoch_done

    def epoch_done(self, job, record) -> None:
        shown(self, job, record)
        if job.kind == kind and record.epoch == epoch:
            sys.stdout.flush()
            part = flag.with_name(flag.name + ".part")
            part.write_text(job.key)
            os.replace(part, flag)              # the test never reads half a key
            threading.Event().wait()            # until SIGKILL

    SearchConsole.epoch_done = epoch_done


def gate(kind: str, flag: Path) -> None:
    claim = JobQueue.claim

    def gated_claim(self):
        if flag.exists():
            return claim(self)
        every = self.trials
        # `claim` picks from `trials()`: hide the waiting jobs of `kind` for this one call
        self.trials = lambda: [t for t in every() if not (t.state == TrialState.WAITING
                                                          and t.user_attrs.get("kind") == kind)]
        try:
            return claim(self)
        finally:
            del self.trials

    JobQueue.claim = gated_claim


if __name__ == "__main__":
    split = sys.argv.index("--")
    mode, *spec = sys.argv[1:split]
    if mode == "hold":
        hold(spec[0], int(spec[1]), Path(spec[2]))
    elif mode == "gate":
        gate(spec[0], Path(spec[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}; allowed: hold, gate")
    sys.exit(main(sys.argv[split + 1:]))
