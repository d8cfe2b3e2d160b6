"""The main Optuna study as optuna-dashboard shows it: one trial per candidate (lsh and full).

The sampler itself learns on a private in-memory study (`proposals.py`); this study is the record a
person browses. Each candidate's trial
- starts (RUNNING) when a worker starts the candidate's first job, so its duration is real: until
  now every trial was created finished in one call, and lasted 0.000 s;
- gets every score as an intermediate value at its epoch (lsh: the spectrum distance, or the
  validation perplexity with metric loss, at e0 and at each round it reaches; full: the validation
  perplexity of every epoch);
- finishes when the candidate leaves the search: PRUNED when eliminated (its last score is its last
  intermediate value), FAIL when failed, COMPLETE when its final training is done, with the final
  validation perplexity as its value, so that `study.best_trial` is the winner. (The sampler learns
  from the e0 scores on its own study, not from these values.)
What a strategy adds to a trial and its final value are the strategy's (`dashboard_values`,
`dashboard_value` of `strategies/base.py`). ASHA's trials are the sampler's own and already carry all
of this (`asha_trial.py`).
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from hyperprune.search.jobs import Job, final_numbers
from hyperprune.search.optuna_internals import storage_of, study_id, trial_id
from hyperprune.search.storage import retrying
from hyperprune.search.seed_noise import mean


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
    storage, sid = storage_of(study), study_id(study)
    retrying(lambda: storage.create_new_trial(sid, template_trial=template))


def record_scores(study: optuna.Study, job: Job, values: dict[int, float], result: dict[str, Any]) -> None:
    """`values` (epoch -> score) of a finished job, as intermediate values of its candidate's trial."""
    trial = _candidate_trials(study).get(job.candidate)
    if trial is None or trial.state.is_finished():
        return
    storage, tid = storage_of(study), trial_id(trial)
    try:
        for epoch, value in sorted(values.items()):
            if epoch not in trial.intermediate_values:
                retrying(lambda: storage.set_trial_intermediate_value(tid, epoch, float(value)))
        retrying(lambda: storage.set_trial_user_attr(tid, "epochs_trained", result.get("epochs_trained")))
    except optuna.exceptions.UpdateFinishedTrialError:
        pass                      # another process finished the trial since it was read: it holds the numbers


def finish_candidates(study: optuna.Study, plan, records,
                      value_of: Callable[[dict[int, float], dict[str, Any] | None], float | None],
                      over_seeds: Callable[[int], list[dict[str, Any]] | None] | None = None) -> int:
    """Finish the trials of candidates that left the search; returns how many were finished now.
    `value_of(intermediate values, final result or None)` is a finished trial's value. `over_seeds`
    (search.final_seeds > 1): a candidate's final results under every seed, None until all are
    done; its trial then finishes on the mean validation ppl, the number the winner is picked by."""
    # a candidate's final numbers under the search's own seed (a seed job's replica trains another model)
    final_done = {r.job.candidate: r.result for r in records.values() if r.job.candidate is not None
                  and not r.job.replica and r.state == "done" and final_numbers(r.result) is not None}
    valued = final_done                          # what value_of ranks: the mean over seeds, where several
    if over_seeds is not None:
        seeded = {c: over_seeds(c) for c in final_done}
        final_done = {c: final_done[c] for c, runs in seeded.items() if runs is not None}
        valued = {c: {**final_done[c], "valid_ppl": mean([r["valid_ppl"] for r in seeded[c]])} for c in final_done}
    finished = 0
    storage = storage_of(study)
    for c, trial in _candidate_trials(study).items():
        tid = trial_id(trial)
        if trial.state.is_finished():
            continue
        if c in plan.failed:
            state, value = TrialState.FAIL, None
        elif c in plan.eliminated:
            # Optuna's best_trial ranks COMPLETE trials only: an eliminated candidate's round score
            # as a value would compete with the finalists' (and once made candidate 2 "best").
            state, value = TrialState.PRUNED, None
        elif c in final_done:
            state = TrialState.COMPLETE
            value = value_of(dict(trial.intermediate_values), valued.get(c))
            if value is None:
                state = TrialState.FAIL
        else:
            continue
        try:
            if c in final_done:
                retrying(lambda: storage.set_trial_user_attr(tid, "valid_ppl", final_done[c]["valid_ppl"]))
                retrying(lambda: storage.set_trial_user_attr(tid, "test_ppl", final_done[c].get("test_ppl")))
            retrying(lambda: storage.set_trial_state_values(tid, state,
                                                            None if value is None else [float(value)]))
            finished += 1
        except optuna.exceptions.UpdateFinishedTrialError:
            # The search process and the worker that completed the search both publish: whichever
            # finishes a trial first writes it, and the other's writes, from the same records, stop.
            pass
    return finished
