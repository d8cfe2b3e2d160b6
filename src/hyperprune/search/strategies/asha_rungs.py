"""ASHA's job: one trial trained rung by rung, and its waits on lower candidates (candidate-order).

`ASHA.run_job` (asha.py) opens the candidate's trial in the main study (`asha_trial.py`) and runs
`train_trial` here: the candidate is trained to each rung, scored and reported there, and stopped
where `ASHA.stops` says so. A trial taken over after it ended is replayed from its stored numbers.
The result has the shape of every candidate job's (`jobs.job_scores`): the scores by epoch, and the
final numbers when the trial reached the budget, with `pruned_at` (the rung it stopped at) added.
"""

from __future__ import annotations

from typing import Any

from hyperprune.search.asha_trial import AshaTrial
from hyperprune.search.candidate import CandidateRun, JobFailed
from hyperprune.search.jobs import JobGivenBack, JobLease, JobRecord


class JobYielded(JobGivenBack):
    """The trial waits on a lower candidate whose job nobody runs (candidate-order): the worker gives
    its own job back and takes that one, rather than wait forever."""

    def __init__(self, key: str):
        super().__init__("waits on a lower candidate nobody runs; given back to run that one first")
        self.key = key


def train_trial(strategy, run: CandidateRun, trial: AshaTrial, records: dict[str, JobRecord],
                lease: JobLease) -> tuple[dict[str, Any], float]:
    """`run`'s candidate trained rung by rung (`strategy` an `ASHA`): scored and reported at each,
    stopped where `strategy.stops` says so, tested at the budget otherwise."""
    rungs, final_epochs = strategy.rungs, strategy.final_epochs
    result: dict[str, Any] = {"params": run.proposal.params, "fingerprint": run.proposal.fingerprint,
                              "scores": {}, "spectra": {}, "spectrum_s": 0.0, "pruned_at": None,
                              "test_ppl": None}
    if trial.finished:
        return replay(run, trial, rungs, result, lease)
    # Taken over mid-trial: a rung the trial reported and then trained past was a promotion the
    # pruner already granted; asking again, against more competitors, could revoke it.
    passed = {e for e in trial.reported if e < run.trainer.epoch}
    wants_spectrum = strategy.settings.metric == "ls"
    idle = lambda waiting_on: strategy.idle(lease, waiting_on)
    for rung, epoch in enumerate(rungs):
        try:
            reached = run.reach(epoch, wants_spectrum, lease.check)
        except JobFailed as exc:
            trial.fail()
            raise JobFailed(exc.reason, {**result, **exc.result}) from None
        reached.release()
        scored = run.score(reached, epoch, records, wants_spectrum)
        if scored.spectrum is not None:
            result["spectra"][str(epoch)] = scored.spectrum
            result["spectrum_s"] += scored.spectrum_s
        if scored.failure is not None:
            trial.fail()
            raise JobFailed(scored.failure, {**result, **run.partial()})
        result["scores"][str(epoch)] = scored.value
        trial.report(epoch, scored.value)
        if epoch < final_epochs and epoch not in passed and strategy.stops(trial, epoch, scored.value, idle):
            trial.prune()
            result.update(run.partial(), pruned_at=rung, valid_ppl=scored.valid_ppl, epoch=epoch)
            return result, scored.value
    result.update(run.partial(), epoch=final_epochs, **run.final_numbers(lease.check))
    trial.complete(scored.value)
    return result, scored.value


def replay(run: CandidateRun, trial: AshaTrial, rungs: list[int], result: dict[str, Any],
           lease: JobLease) -> tuple[dict[str, Any], float]:
    """The numbers of a trial that ended before this worker took its job over."""
    for rung, epoch in enumerate(rungs):
        if epoch not in trial.reported or trial.failed:
            raise JobFailed("its ASHA trial failed before this worker took it over", result)
        result["scores"][str(epoch)] = score = trial.reported[epoch]
        valid_ppl = run.trainer.history[epoch - 1].valid_ppl
        if trial.pruned and epoch == trial.last_rung:
            result.update(run.partial(), pruned_at=rung, valid_ppl=valid_ppl, epoch=epoch)
            return result, score
    result.update(run.partial(), epoch=run.cfg.final_epochs, **run.final_numbers(lease.check))
    return result, score


def settled_below(strategy, lease: JobLease, waiting_on: list[int]) -> list[int]:
    """A wait of `lease`'s trial on the lower candidates `waiting_on` (candidate-order). Returns
    those whose job has ended, failed for good or done (they will never report: no longer waited
    on); pauses while the others are being run; gives the job back (JobYielded) when one is not
    (its worker died, or it was never started), so that this worker runs that one instead of
    waiting forever."""
    lease.check()
    records = lease.records()
    gone = []
    for c in waiting_on:
        record = records.get(strategy.final_job(c).key)
        if record is not None and record.state in ("failed", "done"):
            gone.append(c)
        elif record is None or record.state in ("waiting", "lost"):
            raise JobYielded(lease.job.key)
    if not gone:
        lease.pause()
    return gone
