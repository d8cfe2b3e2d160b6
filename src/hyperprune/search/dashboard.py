"""The main Optuna study as optuna-dashboard shows it: one trial per candidate (lsh and full).

The sampler itself learns on a private in-memory study (`proposals.py`); this study is the record a
person browses. Each candidate's trial
- starts (RUNNING) when a worker starts the candidate's first job, so its duration is real: until
  now every trial was created finished in one call, and lasted 0.000 s;
- gets every score as an intermediate value at its epoch (lsh: the spectrum distance, or the
  validation perplexity with metric loss, at e0 and at each round it reaches; full: the validation
  perplexity of every epoch);
- finishes when the candidate leaves the search: eliminated, failed, or its final training done.
  Its value is what the sampler learnt from (lsh: the e0 score; full: the final perplexity).
ASHA's trials are the sampler's own and already carry all of this (`asha.py`).
"""

from __future__ import annotations

import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperprune.search.jobs import Job
from hyperprune.search.storage import retrying


def _candidate_trials(study: optuna.Study) -> dict[int, FrozenTrial]:
    return {t.user_attrs["candidate"]: t for t in retrying(lambda: study.get_trials(deepcopy=False))
            if "candidate" in t.user_attrs}


def start_candidate(study: optuna.Study, space, proposal) -> None:
    """A RUNNING trial for `proposal`'s candidate, unless it has one already."""
    if proposal.slot in _candidate_trials(study):
        return
    distributions = {k: space.distributions[k] for k in proposal.params}
    template = FrozenTrial(number=-1, state=TrialState.RUNNING, value=None,
                           datetime_start=datetime.datetime.now(), datetime_complete=None,
                           params=dict(proposal.params), distributions=distributions,
                           user_attrs={"candidate": proposal.slot}, system_attrs={}, intermediate_values={},
                           trial_id=-1)
    storage, study_id = study._storage, study._study_id
    retrying(lambda: storage.create_new_trial(study_id, template_trial=template))


def record_scores(study: optuna.Study, strategy: str, job: Job, result: dict[str, Any]) -> None:
    """The scores of a finished job, as intermediate values of its candidate's trial."""
    trial = _candidate_trials(study).get(job.candidate)
    if trial is None or trial.state.is_finished():
        return
    if strategy == "lsh" and job.kind == "score":
        values = {job.epoch: result["score"]}
    elif strategy == "full" and job.kind == "final":
        values = {int(e): p for e, p in result.get("valid_ppl_by_epoch", {}).items() if p is not None}
    else:
        values = {}
    storage = study._storage
    for epoch, value in sorted(values.items()):
        if epoch not in trial.intermediate_values:
            retrying(lambda: storage.set_trial_intermediate_value(trial._trial_id, epoch, float(value)))
    retrying(lambda: storage.set_trial_user_attr(trial._trial_id, "epochs_trained", result.get("epochs_trained")))


def finish_candidates(study: optuna.Study, strategy: str, plan, records) -> int:
    """Finish the trials of candidates that left the search; returns how many were finished now."""
    final_done = {r.job.candidate: r.result for r in records.values()
                  if r.job.kind == "final" and r.state == "done"}
    finished = 0
    storage = study._storage
    for c, trial in _candidate_trials(study).items():
        if trial.state.is_finished():
            continue
        if c in plan.failed:
            state, value = TrialState.FAIL, None
        elif c in plan.eliminated or c in final_done:
            state = TrialState.COMPLETE
            if strategy == "full":
                value = final_done[c]["valid_ppl"]
            else:
                first = min(trial.intermediate_values, default=None)
                value = trial.intermediate_values[first] if first is not None else None
            if value is None:
                state = TrialState.FAIL
        else:
            continue
        if c in final_done:
            retrying(lambda: storage.set_trial_user_attr(trial._trial_id, "valid_ppl", final_done[c]["valid_ppl"]))
            retrying(lambda: storage.set_trial_user_attr(trial._trial_id, "test_ppl", final_done[c].get("test_ppl")))
        try:
            retrying(lambda: storage.set_trial_state_values(trial._trial_id, state,
                                                            None if value is None else [float(value)]))
            finished += 1
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
    return finished
