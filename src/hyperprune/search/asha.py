"""ASHA (Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning") on the spectrum
distance: each candidate is one trial of the main study, asked when a worker picks its job, and
reports its score at the rungs e0 * eta^r (eta = round(1 / keep)); Optuna's SuccessiveHalvingPruner
stops the trials that are not in the top 1/eta of their rung so far. Asynchronous: with several
workers the pool depends on timing, unlike lsh.
"""

from __future__ import annotations

import warnings

import optuna
from optuna.trial import TrialState

from hyperprune.search.proposals import Proposal, make_sampler
from hyperprune.search.schedule import reduction_factor
from hyperprune.search.space import SearchSpace
from hyperprune.search.storage import retrying


def pruner(cfg) -> optuna.pruners.SuccessiveHalvingPruner:
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=cfg.search.first_epoch,
                                                  reduction_factor=reduction_factor(cfg.search.keep),
                                                  min_early_stopping_rate=0)


def proposals_of(study: optuna.Study) -> dict[int, Proposal]:
    """Candidate id -> its proposal, from the main study's trials."""
    out: dict[int, Proposal] = {}
    for trial in retrying(lambda: study.get_trials(deepcopy=False)):
        attrs = trial.user_attrs
        if "candidate" in attrs and "fingerprint" in attrs:
            out[attrs["candidate"]] = Proposal(attrs["candidate"], dict(trial.params), attrs["fingerprint"],
                                               attrs.get("duplicate_of"))
    return out


def asha_trial(study: optuna.Study, space: SearchSpace, cfg,
               candidate: int) -> tuple[optuna.trial.FrozenTrial, Proposal]:
    """The main-study trial of `candidate`: the one a previous worker started (taking it over; it
    may even have finished), or a new one asked from the sampler, seeded by (seed, candidate)."""
    storage = study._storage
    for frozen in retrying(lambda: study.get_trials(deepcopy=False)):
        if frozen.user_attrs.get("candidate") == candidate and "fingerprint" in frozen.user_attrs:
            attrs = frozen.user_attrs
            return frozen, Proposal(candidate, dict(frozen.params), attrs["fingerprint"], attrs.get("duplicate_of"))
    sampler = make_sampler(cfg.search.sampler, cfg.seed * 100003 + candidate, space)
    seeded = retrying(lambda: optuna.load_study(study_name=study.study_name, storage=storage, sampler=sampler))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trial = retrying(seeded.ask)
        params = space.suggest(trial)
    fingerprint = space.fingerprint(params)
    earlier = [p for p in proposals_of(study).values() if p.fingerprint == fingerprint and p.slot != candidate
               and p.duplicate_of is None]
    duplicate_of = min((p.slot for p in earlier), default=None)
    retrying(lambda: storage.set_trial_user_attr(trial._trial_id, "candidate", candidate))
    retrying(lambda: storage.set_trial_user_attr(trial._trial_id, "fingerprint", fingerprint))
    if duplicate_of is not None:
        retrying(lambda: storage.set_trial_user_attr(trial._trial_id, "duplicate_of", duplicate_of))
        retrying(lambda: storage.set_trial_state_values(trial._trial_id, TrialState.FAIL))
    return retrying(lambda: storage.get_trial(trial._trial_id)), Proposal(candidate, params, fingerprint, duplicate_of)


# The trial's writes after it was asked: each through `retrying`, as every other storage call, so a
# dropped connection costs a retry, not the job.


def report(study: optuna.Study, trial_id: int, epoch: int, score: float) -> None:
    """Store the trial's score at a rung (a retried write stores the same value again)."""
    retrying(lambda: study._storage.set_trial_intermediate_value(trial_id, epoch, score))


def should_stop(study: optuna.Study, cfg, trial_id: int) -> bool:
    """Whether successive halving stops the trial at the rung it last reported."""
    frozen = retrying(lambda: study._storage.get_trial(trial_id))
    return retrying(lambda: pruner(cfg).prune(study, frozen))


def finish(study: optuna.Study, trial_id: int, state: TrialState, values: list[float] | None = None) -> None:
    """End the trial as `state`. A trial already finished (by a retried write that had reached the
    database, or by the worker this one took over from) is left as it is."""
    try:
        retrying(lambda: study._storage.set_trial_state_values(trial_id, state, values))
    except optuna.exceptions.UpdateFinishedTrialError:
        pass
