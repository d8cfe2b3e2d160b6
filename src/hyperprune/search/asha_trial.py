"""The main-study trial of one ASHA candidate, and every write to it.

A candidate's trial is asked from the sampler when a worker starts the candidate's job, seeded by
(seed, candidate), and tagged with the candidate's id and fingerprint; a worker that takes the job
over after a crash finds the same trial again, even a finished one. Each storage call goes through
`retrying`, as every other one of the search, so a dropped connection costs a retry, not the job.
The strategy that decides which trials run and when is `strategies/asha.py`.
"""

from __future__ import annotations

import warnings

import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperprune.search.optuna_internals import storage_of, trial_id
from hyperprune.search.proposals import Proposal, make_sampler
from hyperprune.search.space import SearchSpace
from hyperprune.search.storage import retrying


class TrialTakenOver(Exception):
    """This worker's trial was ended by another: the worker that took the job over while this one
    was presumed dead. Its numbers stand; this worker drops the job, as on a lost lease."""


def proposals_of(study: optuna.Study) -> dict[int, Proposal]:
    """Candidate id -> its proposal, from the main study's trials."""
    out: dict[int, Proposal] = {}
    for trial in retrying(lambda: study.get_trials(deepcopy=False)):
        attrs = trial.user_attrs
        if "candidate" in attrs and "fingerprint" in attrs:
            out[attrs["candidate"]] = Proposal(attrs["candidate"], dict(trial.params), attrs["fingerprint"],
                                               attrs.get("duplicate_of"))
    return out


class AshaTrial:
    """One candidate's trial: `open` it, then `report` each rung, ask `should_stop`, and end it
    with `fail`, `prune` or `complete`."""

    def __init__(self, study: optuna.Study, frozen: FrozenTrial, proposal: Proposal,
                 pruner: optuna.pruners.BasePruner):
        self.study = study
        self.frozen = frozen              # as it was when opened: what a takeover replays
        self.proposal = proposal
        self.pruner = pruner
        self._storage = storage_of(study)
        self._id = trial_id(frozen)

    @classmethod
    def open(cls, study: optuna.Study, space: SearchSpace, cfg, candidate: int,
             pruner: optuna.pruners.BasePruner) -> "AshaTrial":
        """The trial of `candidate`: the one a previous worker started (taking it over; it may even
        have finished), or a new one asked from the sampler, seeded by (seed, candidate). A new
        trial whose settings repeat an earlier candidate's is failed at once, marked `duplicate_of`."""
        storage = storage_of(study)
        for frozen in retrying(lambda: study.get_trials(deepcopy=False)):
            attrs = frozen.user_attrs
            if attrs.get("candidate") == candidate and "fingerprint" in attrs:
                proposal = Proposal(candidate, dict(frozen.params), attrs["fingerprint"], attrs.get("duplicate_of"))
                if proposal.duplicate_of is not None and not frozen.state.is_finished():
                    # the worker that marked it died (or was presumed dead) before failing it
                    end_trial(storage, trial_id(frozen), TrialState.FAIL)
                    frozen = retrying(lambda: storage.get_trial(trial_id(frozen)))
                return cls(study, frozen, proposal, pruner)
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
        tid = trial_id(trial)
        retrying(lambda: storage.set_trial_user_attr(tid, "candidate", candidate))
        retrying(lambda: storage.set_trial_user_attr(tid, "fingerprint", fingerprint))
        if duplicate_of is not None:
            retrying(lambda: storage.set_trial_user_attr(tid, "duplicate_of", duplicate_of))
            end_trial(storage, tid, TrialState.FAIL)     # or a worker that took this job over did
        frozen = retrying(lambda: storage.get_trial(tid))
        return cls(study, frozen, Proposal(candidate, params, fingerprint, duplicate_of), pruner)

    # -- what the trial held when opened ---------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.frozen.state.is_finished()

    @property
    def failed(self) -> bool:
        return self.frozen.state == TrialState.FAIL

    @property
    def pruned(self) -> bool:
        return self.frozen.state == TrialState.PRUNED

    @property
    def reported(self) -> dict[int, float]:
        """Rung epoch -> score, as stored when the trial was opened."""
        return dict(self.frozen.intermediate_values)

    @property
    def last_rung(self) -> int | None:
        return self.frozen.last_step

    # -- writes ---------------------------------------------------------------------------------

    def report(self, epoch: int, score: float) -> None:
        """Store the score at a rung (a retried write stores the same value again). A slow worker
        can pass its lease check, then be presumed dead while it scores, and find the trial ended by
        the worker that took over: `TrialTakenOver`, not Optuna's UpdateFinishedTrialError."""
        try:
            retrying(lambda: self._storage.set_trial_intermediate_value(self._id, epoch, score))
        except optuna.exceptions.UpdateFinishedTrialError:
            raise TrialTakenOver(f"trial {self._id}") from None

    def should_stop(self) -> bool:
        """Whether the pruner stops the trial at the rung it last reported."""
        frozen = retrying(lambda: self._storage.get_trial(self._id))
        return retrying(lambda: self.pruner.prune(self.study, frozen))

    def competitors_below(self, epoch: int) -> tuple[list[int], list[float]]:
        """(lower candidates not settled at `epoch` yet, the scores of those that reported there).
        A lower candidate is settled at a rung once it reported there, or ended below it (stopped,
        failed), or is a duplicate (it never trains: marked so before its trial is failed, and a worker
        may die between the two writes); one not asked yet, or training towards the rung, is not."""
        by_candidate = {t.user_attrs["candidate"]: t for t in retrying(lambda: self.study.get_trials(deepcopy=False))
                        if "candidate" in t.user_attrs and "fingerprint" in t.user_attrs}
        waiting, values = [], []
        for c in range(self.proposal.slot):
            trial = by_candidate.get(c)
            if trial is not None and epoch in trial.intermediate_values:
                values.append(trial.intermediate_values[epoch])
            elif trial is None or not (trial.state.is_finished() or "duplicate_of" in trial.user_attrs):
                waiting.append(c)
        return waiting, values

    def fail(self) -> None:
        self._finish(TrialState.FAIL)

    def prune(self) -> None:
        self._finish(TrialState.PRUNED)

    def complete(self, value: float) -> None:
        self._finish(TrialState.COMPLETE, [value])

    def _finish(self, state: TrialState, values: list[float] | None = None) -> None:
        end_trial(self._storage, self._id, state, values)


def end_trial(storage, tid: int, state: TrialState, values: list[float] | None = None) -> None:
    """End trial `tid` as `state`. A trial already finished (by a retried write that had reached the
    database, by the worker this one took over from, or by the one that took over from this one) is
    left as it is."""
    try:
        retrying(lambda: storage.set_trial_state_values(tid, state, values))
    except optuna.exceptions.UpdateFinishedTrialError:
        pass
