"""The pool of candidates, drawn from an Optuna sampler by a replay that any process can repeat.

Proposals come in batches of `search.batch`. Batch b is drawn once every candidate of the earlier
batches has its score (the sampler learns from those scores through `tell`). Every worker, and a
search restarted after a kill, replays the same asks and tells in the same order on a fresh
in-memory study with the same sampler seed, so it draws exactly the same candidates: the pool does
not depend on how many processes share the search, nor on when they were interrupted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from hyperprune.registry import Registry
from hyperprune.search.optuna_internals import grid_point_of, grid_size, pin_to_grid_point
from hyperprune.search.rounds import FAILED, PENDING
from hyperprune.search.space import SearchSpace


@dataclass(frozen=True)
class Proposal:
    slot: int                    # candidate id: the position in the pool
    params: dict[str, Any]       # dotted key -> value
    fingerprint: str             # equal for candidates that would train identically
    duplicate_of: int | None     # the earlier candidate with the same fingerprint


class PoolGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler for a pool drawn by ask and tell, which may be larger than the grid.

    Optuna's sampler calls `study.stop()` once every point is visited, which only works inside
    `study.optimize` (here it raised at every `tell`, so a re-run crashed again), and then draws a
    random visited point. Here the pool is the whole grid, in trial order, and every slot past it
    repeats a point in order (slot g -> point g mod G): a duplicate that is collapsed, not trained,
    and the same in every replay.
    """

    def before_trial(self, study, trial) -> None:
        if trial.number >= grid_size(self) and grid_point_of(trial) is None:
            pin_to_grid_point(self, study, trial, trial.number % grid_size(self))
            return
        super().before_trial(study, trial)

    def after_trial(self, study, trial, state, values) -> None:
        pass                                   # never study.stop(): the pool decides when to stop


# The released code calls hyperopt's `fmin(algo=tpe.suggest)` with its defaults (first_round.py:72-77):
# 20 random start-up trials, where Optuna's default is 10. Its 24 expected-improvement candidates and
# prior weight 1 are Optuna's defaults too. Its split of the good trials, ceil(0.25 sqrt(n)), is not
# set here (Optuna's is ceil(0.1 n), capped at 25): Optuna deprecated the `gamma` argument in 4.9, and
# over 40 evaluations the two count 2 against 2 to 4 trials as good (docs/paper.md).
HYPEROPT_STARTUP_TRIALS = 20


# `search.sampler` names one of these: fn(seed, space) -> an Optuna sampler.
SAMPLERS = Registry("search.sampler")
SAMPLERS.register("tpe")(
    lambda seed, space: optuna.samplers.TPESampler(seed=seed, n_startup_trials=HYPEROPT_STARTUP_TRIALS))
SAMPLERS.register("random")(lambda seed, space: optuna.samplers.RandomSampler(seed=seed))
SAMPLERS.register("grid")(lambda seed, space: PoolGridSampler(space.grid(), seed=seed))
SAMPLERS.register("cmaes")(
    lambda seed, space: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False))
SAMPLERS.register("gp")(lambda seed, space: optuna.samplers.GPSampler(seed=seed))


def make_sampler(name: str, seed: int, space: SearchSpace) -> optuna.samplers.BaseSampler:
    build = SAMPLERS.get(name).fn
    with warnings.catch_warnings():
        # cmaes and gp are experimental in Optuna: the user chose one, so the warning is noise
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return build(seed, space)


class Proposer:
    """Grows the pool as scores arrive. `outcome(slot)` is the score the sampler learns from:
    a float, PENDING (not known yet) or FAILED."""

    def __init__(self, space: SearchSpace, sampler: str, seed: int, n_candidates: int, batch: int):
        self.space = space
        self.n_candidates = n_candidates
        self.batch = batch
        self.study = optuna.create_study(sampler=make_sampler(sampler, seed, space), direction="minimize")
        self.proposals: list[Proposal] = []
        self._trials: list[optuna.Trial] = []
        self._told = 0
        self._by_fingerprint: dict[str, int] = {}

    def propose(self, outcome: Callable[[int], object]) -> list[Proposal]:
        while True:
            while self._told < len(self.proposals):
                proposal = self.proposals[self._told]
                result = outcome(proposal.slot if proposal.duplicate_of is None else proposal.duplicate_of)
                if result is PENDING:
                    return self.proposals
                trial = self._trials[self._told]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if result is FAILED:
                        self.study.tell(trial, state=TrialState.FAIL)
                    else:
                        self.study.tell(trial, float(result))
                self._told += 1
            if len(self.proposals) >= self.n_candidates:
                return self.proposals
            for slot in range(len(self.proposals), min(len(self.proposals) + self.batch, self.n_candidates)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    trial = self.study.ask()
                    params = self.space.suggest(trial)
                fingerprint = self.space.fingerprint(params)
                original = self._by_fingerprint.setdefault(fingerprint, slot)
                self.proposals.append(Proposal(slot, params, fingerprint, None if original == slot else original))
                self._trials.append(trial)
