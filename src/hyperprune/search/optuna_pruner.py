"""LSH's synchronous elimination rounds as an Optuna pruner, for a user's own study.

Zheng & Shlizerman 2025, "Lyapunov-spectrum-based hyperpruning" (arXiv 2506.07975): a pool of n
candidates is trained to epoch e0 and ranked by the distance of its Lyapunov spectrum to the dense
model's; floor(n/2) + 1 are kept (the released code's rule, `rounds.n_kept` with "half+1"), trained
`round_every` more epochs, ranked again, and so on until `finalists` are left, which train fully.
The rule is synchronous: a round is decided over *every* candidate that reached its epoch.

Optuna asks a pruner about one trial at a time, so "waiting for the round to fill" needs saying
exactly. `LSHPruner` keeps no state of its own: at every `should_prune()` it replays the rounds
from the intermediate values stored in the study (so it survives restarts and sees every worker's
reports), and a round is *full* when every trial alive in it has reported the round's step or has
ended without it (then it drops out, as a failed candidate does in the paper). Then:

  - a trial eliminated in a full round is pruned at its next `should_prune()`: at the round's step
    when the round was already full, else at the first step it reports after the round filled;
  - a trial at a round step whose round is not full waits up to `wait` seconds for it to fill,
    polling the storage (other threads, processes or machines are training the other members);
    if the round is still not full it goes on provisionally and is judged later, as above.

What reproduces the paper's rule, compute included:
  - ask/tell in lockstep (one process, sequential; the example below): all alive trials train to
    the round's step and report, then each is asked `should_prune()`; the round is always full;
  - parallel trials, with every member of the pool running at once (`study.optimize(..., n_jobs=n)`
    or n workers on one RDB storage) and `wait` longer than an epoch takes. With fewer slots than
    alive trials, the waiting ones hold the slots the others need: each waits `wait` in vain, then
    goes on provisionally.
With a plain sequential `study.optimize(objective)`, trial i cannot wait for trial i + 1, which only
starts after it: rounds are still decided exactly as the paper's over the full set (so the pruned
and surviving trials are the same), but only the trial that fills a round can be stopped there; the
others have trained on. Use lockstep ask/tell when the saved compute matters.

Pools: trial numbers [0, n), [n, 2n), ... each form a pool of their own (a second batch of trials is
a second search). Every trial must report at every round step (first_step + r * round_every).
Lower values are better in a "minimize" study (the LS distance), higher in "maximize".
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperprune.errors import UserError
from hyperprune.search.rounds import HALF_PLUS_ONE, n_kept, rank

ENDED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@dataclass
class PoolRound:
    """One round of one pool: who was alive, who reported, who was kept (None: not full yet)."""

    round: int
    step: int
    alive: list[int]                     # trial numbers alive at the round's start
    scores: dict[int, float]             # those that reported the step (lower is better)
    kept: list[int] | None = None        # ranked, best first; None while the round is not full

    @property
    def full(self) -> bool:
        return self.kept is not None


def replay_rounds(pool_size: int, values: dict[int, dict[int, float]], ended: set[int], *, first_step: int,
                  round_every: int, finalists: int) -> list[PoolRound]:
    """The rounds of one pool as far as the reports allow (pure: no study, no clock).

    values: trial number -> {step: value, lower is better}, for the pool's trials created so far;
    ended: those that will report nothing more. Round 0 is full once all `pool_size` trials exist
    and each has reported `first_step` or ended. A non-finite value ranks last.
    """
    rounds: list[PoolRound] = []
    alive = sorted(values)
    r = 0
    while len(alive) > finalists or (r == 0 and len(alive) < pool_size):
        step = first_step + r * round_every
        scores = {t: values[t][step] for t in alive if step in values[t]}
        scores = {t: v if math.isfinite(v) else math.inf for t, v in scores.items()}
        this = PoolRound(r, step, list(alive), scores)
        rounds.append(this)
        waiting = [t for t in alive if t not in scores and t not in ended]
        if waiting or (r == 0 and len(values) < pool_size):
            break
        this.kept = rank(scores)[:n_kept(len(scores), HALF_PLUS_ONE, finalists)]
        alive, r = sorted(this.kept), r + 1
    return rounds


def _check_int(what: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"LSHPruner {what} = {value!r}; allowed: an integer >= {low}")
    return value


class LSHPruner(optuna.pruners.BasePruner):
    """Prune trials by LSH's synchronous rounds: keep floor(n/2) + 1 of the n trials that reached a round's step.

    Zheng & Shlizerman 2025, "Lyapunov-spectrum-based hyperpruning", arXiv 2506.07975. The reported
    value is meant to be `hyperprune.spectrum_distance` (lower: closer to the dense model), but any
    value ranked by the study's direction works. See the module docstring for when a trial waits.

    Args:
        n_trials: the pool size n: trials [0, n) are ranked together (then [n, 2n), ...).
        first_step: the step of round 0 (the epoch e0 reported by `trial.report(value, step)`).
        round_every: steps between rounds.
        finalists: rounds stop when this many are left; they are never pruned.
        wait: seconds a trial at a round step waits for the round to fill (0: never waits).
        poll_interval: seconds between looks at the storage while waiting.

    Example: a pool of 6 in lockstep; each trial's model is a number that the "training" moves.

    >>> import optuna, hyperprune
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> pruner = hyperprune.LSHPruner(n_trials=6, first_step=0, round_every=1, finalists=2)
    >>> study = optuna.create_study(direction="minimize", pruner=pruner)
    >>> trials = [study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}) for _ in range(6)]
    >>> alive = list(trials)
    >>> for epoch in range(4):
    ...     for trial in alive:                        # train every alive trial one epoch, report
    ...         trial.report(abs(trial.params["x"] - 0.5) / (epoch + 1), epoch)
    ...     for trial in list(alive):                  # the round is full: decide
    ...         if trial.should_prune():
    ...             _ = study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    ...             alive.remove(trial)
    ...     print(epoch, len(alive))
    0 4
    1 3
    2 2
    3 2
    >>> for trial in alive:
    ...     _ = study.tell(trial, abs(trial.params["x"] - 0.5) / 4)
    >>> closest = sorted(trials, key=lambda t: abs(t.params["x"] - 0.5))[:2]   # ranks never change here
    >>> sorted(t.number for t in closest) == sorted(t.number for t in alive)
    True
    """

    def __init__(self, n_trials: int, first_step: int = 0, round_every: int = 1, finalists: int = 2,
                 wait: float = 0.0, poll_interval: float = 0.5):
        self.n_trials = _check_int("n_trials", n_trials, 2)
        self.first_step = _check_int("first_step", first_step, 0)
        self.round_every = _check_int("round_every", round_every, 1)
        self.finalists = _check_int("finalists", finalists, 1)
        if finalists >= n_trials:
            raise UserError(f"LSHPruner finalists = {finalists} leaves nothing to prune among n_trials = "
                            f"{n_trials}; allowed: 1 to {n_trials - 1}")
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait < math.inf:
            raise UserError(f"LSHPruner wait = {wait!r}; allowed: seconds >= 0")
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or not poll_interval > 0:
            raise UserError(f"LSHPruner poll_interval = {poll_interval!r}; allowed: seconds > 0")
        self.wait = float(wait)
        self.poll_interval = float(poll_interval)
        self._warned: set[str] = set()       # each warning once per pruner

    def rounds(self, study: optuna.Study, pool: int = 0) -> list[PoolRound]:
        """The rounds of pool `pool` as the study's reports stand now (for reports and tests)."""
        low, high = pool * self.n_trials, (pool + 1) * self.n_trials
        sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
        values: dict[int, dict[int, float]] = {}
        ended: set[int] = set()
        for t in study.get_trials(deepcopy=False):
            if low <= t.number < high:
                values[t.number] = {step: sign * v for step, v in t.intermediate_values.items()}
                if t.state in ENDED:
                    ended.add(t.number)
        return replay_rounds(self.n_trials, values, ended, first_step=self.first_step,
                             round_every=self.round_every, finalists=self.finalists)

    def _eliminated(self, rounds: list[PoolRound], number: int) -> bool:
        return any(r.full and number in r.alive and number not in r.kept for r in rounds)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, stacklevel=3)

    def _check_use(self, study: optuna.Study, rounds: list[PoolRound], pool: int) -> None:
        """Warnings for a study this pruner cannot serve as meant: one that maximises, and one whose
        trials run one after another (each ends before its round fills, so none is stopped)."""
        if study.direction == optuna.study.StudyDirection.MAXIMIZE:
            self._warn_once("maximize", "LSHPruner on a 'maximize' study keeps the trials with the highest "
                                        "values; a spectrum distance is better when lower: create the study with "
                                        "direction='minimize' unless higher is better for what you report")
        eliminated = {t: r for r in rounds if r.full for t in r.alive if t not in r.kept}
        if not eliminated:
            return
        completed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
        trained_on = sorted(t for t in eliminated if t in completed)
        if trained_on:
            r = eliminated[trained_on[0]]
            self._warn_once("sequential", f"LSHPruner: trial {trained_on[0]} completed although round {r.round} "
                                          f"(step {r.step}) eliminates it: its round filled only after it ended, as "
                                          f"in a sequential study.optimize, so it was not stopped; run the pool in "
                                          f"lockstep (ask/tell) or in parallel with wait > 0 to save that compute "
                                          f"(docs/api.md)")

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        pool = trial.number // self.n_trials
        rounds = self.rounds(study, pool)
        self._check_use(study, rounds, pool)
        if self._eliminated(rounds, trial.number):
            return True
        pending = rounds[-1] if rounds and not rounds[-1].full else None
        if pending is None or pending.step != step or self.wait <= 0:
            return False
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            time.sleep(self.poll_interval)
            rounds = self.rounds(study, pool)
            if any(r.step == step and r.full for r in rounds):
                return self._eliminated(rounds, trial.number)
        return False                       # not full in time: go on provisionally, judged later
