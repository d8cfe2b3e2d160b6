"""A work queue of training jobs kept in the study's storage, so any number of workers can share it.

A job is "train this model to epoch E and measure it": the dense reference (`dense@E`), a candidate
being scored (`score:C@E`), a finalist's full budget (`final:C@E`), one ASHA trial (`asha:C@E`), or
a finished model trained again under seed + k (`seed:C+k@E`, `seed:dense+k@E`; search.final_seeds).
Each job is a trial of a second Optuna study (`NAME.jobs`), created WAITING. Claiming is Optuna's
atomic WAITING -> RUNNING transition, so a job runs in one worker at a time; heartbeats (RDB storage)
let another worker take over a job whose worker died. Its result is the trial's user attribute
`result` and its value the score.

Jobs are planned by every worker from the same results (see `schedule.py`), so two workers may
enqueue the same job at the same moment: the copy with the higher number is dropped when claimed.
A job failed for a reason (diverged training) stays failed; one whose worker vanished is planned
again and resumes from the model's last checkpoint, up to `MAX_LOST` times.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import optuna
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState, create_trial

from hyperprune.search.optuna_internals import trial_id
from hyperprune.search.storage import retrying

MAX_LOST = 3


@dataclass(frozen=True, order=True)
class Job:
    kind: str                  # dense | score | final | asha | seed
    epoch: int
    candidate: int | None = None
    # seed jobs (search.final_seeds): the model trained again from scratch under seed + replica;
    # candidate None is the dense model's
    replica: int = 0

    @property
    def key(self) -> str:
        if self.kind == "seed":
            model = "dense" if self.candidate is None else self.candidate
            return f"seed:{model}+{self.replica}@{self.epoch}"
        return f"dense@{self.epoch}" if self.candidate is None else f"{self.kind}:{self.candidate}@{self.epoch}"

    def attrs(self) -> dict[str, Any]:
        attrs = {"job": self.key, "kind": self.kind, "epoch": self.epoch, "candidate": self.candidate}
        if self.replica:
            attrs["replica"] = self.replica        # absent otherwise: the attributes stored before seeds
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> "Job":
        return cls(attrs["kind"], int(attrs["epoch"]), attrs.get("candidate"), int(attrs.get("replica", 0)))

    def __str__(self) -> str:
        return self.key


def job_scores(job: Job, result: dict[str, Any]) -> dict[int, float]:
    """Epoch -> score of a candidate job's result. Every candidate job's result has one shape: its
    scores by epoch under `scores` (a score job's one, an asha trial's every rung, none for a job
    that trains to the budget), and, when the model was trained to the budget and tested, the final
    numbers (`test_ppl` not None, with `valid_ppl`, `state_epoch`, the parameter counts and the
    `checkpoint` they were measured on; `final_numbers`)."""
    if "scores" in result:
        return {int(e): v for e, v in result["scores"].items()}
    # stored before every result carried `scores`: a score job held its one score as `score`
    return {job.epoch: result["score"]} if job.kind == "score" and result.get("score") is not None else {}


def job_spectra(job: Job, result: dict[str, Any]) -> dict[int, list]:
    """Epoch -> the mean exponents measured for its score (`spectra`, beside `scores`)."""
    if "spectra" in result:
        return {int(e): v for e, v in result["spectra"].items()}
    stored_before = job.kind == "score" and result.get("score") is not None and result.get("spectrum") is not None
    return {job.epoch: result["spectrum"]} if stored_before else {}


def final_numbers(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """`result` when its model was trained to the budget and tested (see `job_scores`), else None."""
    return result if result is not None and result.get("test_ppl") is not None else None


@dataclass
class JobRecord:
    job: Job
    state: str                    # waiting | running | done | failed | lost
    result: dict[str, Any] | None = None
    failure: str | None = None
    lost: int = 0                 # attempts whose worker vanished


@dataclass
class Claim:
    job: Job
    trial_id: int
    number: int


class LeaseLost(Exception):
    """Another worker took this job over (this one was presumed dead): drop the work silently."""


class JobGivenBack(Exception):
    """A job gives itself back unfinished, to be planned again (e.g. it waits on a job nobody runs);
    the message says why, in words for the console."""


@dataclass
class JobLease:
    """What a running job may ask of the worker that claimed it: whether it still holds the job (its
    worker may have been presumed dead), the stored records as they are now, and a pause of one poll
    interval. A strategy's job (`SearchStrategy.run_job`) gets one; the queue stays the runner's."""
    job: Job
    still_mine: Callable[[], bool]
    epoch_done: Callable[[Job, Any], None] | None = None      # after each epoch (the trainer's EpochRecord)
    stored: Callable[[], dict[str, JobRecord]] | None = None  # the records now, stale jobs failed first
    pause: Callable[[], None] = lambda: None

    def check(self, trainer=None, record=None) -> None:
        """After an epoch (`record`), and before any wait: raises LeaseLost when the job was taken over."""
        if record is not None and self.epoch_done is not None:
            self.epoch_done(self.job, record)
        if not self.still_mine():
            raise LeaseLost(self.job.key)

    def records(self) -> dict[str, JobRecord]:
        if self.stored is None:
            raise RuntimeError(f"job {self.job.key} was run without access to the stored records")
        return self.stored()


class Heartbeat:
    """Records the claimed job's heartbeat every interval from a background thread."""

    def __init__(self, queue: "JobQueue", trial_id: int):
        self.queue, self.trial_id, self.interval = queue, trial_id, queue.heartbeat_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Heartbeat":
        if self.interval:
            self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{self.trial_id}")
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.queue.beat(self.trial_id)
            except Exception:  # a dropped connection: the next beat retries; a long gap loses the job
                pass

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class JobQueue:
    """The jobs of one search. Heartbeats: Optuna's own on RDB storage (the database's clock);
    on a journal file, a `heartbeat` user attribute with the worker's clock, `clock` (keep clocks in
    sync); none on SQLite, whose single process gives orphaned jobs back when it starts."""

    def __init__(self, storage: BaseStorage, study_name: str, heartbeat_interval: int | None = None,
                 clock: Callable[[], float] = time.time):
        self.storage = storage
        self.clock = clock
        getter = getattr(storage, "get_heartbeat_interval", None)
        self.rdb_heartbeat = getter is not None and getter() is not None
        journal = isinstance(storage, optuna.storages.JournalStorage)
        self.heartbeat_interval = getter() if self.rdb_heartbeat else (heartbeat_interval if journal else None)
        self.study_name = study_name
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        try:
            self.study_id = retrying(lambda: storage.get_study_id_from_name(study_name))
        except KeyError:
            try:
                self.study_id = retrying(lambda: storage.create_new_study([StudyDirection.MINIMIZE], study_name))
            except optuna.exceptions.DuplicatedStudyError:
                self.study_id = retrying(lambda: storage.get_study_id_from_name(study_name))
        self._study: optuna.Study | None = None

    def beat(self, trial_id: int) -> None:
        if self.rdb_heartbeat:
            self.storage.record_heartbeat(trial_id)
        elif self.heartbeat_interval:
            self.storage.set_trial_user_attr(trial_id, "heartbeat", self.clock())

    # -- reading -----------------------------------------------------------------------------

    def trials(self) -> list[FrozenTrial]:
        return retrying(lambda: self.storage.get_all_trials(self.study_id, deepcopy=False))

    def records(self, trials: Iterable[FrozenTrial] | None = None) -> dict[str, JobRecord]:
        """The state of every job key, from all the trials ever made for it."""
        records: dict[str, JobRecord] = {}
        for trial in sorted(self.trials() if trials is None else trials, key=lambda t: t.number):
            attrs = trial.user_attrs
            if "job" not in attrs or trial.state == TrialState.PRUNED:
                continue                                  # a dropped duplicate
            record = records.setdefault(attrs["job"], JobRecord(Job.from_attrs(attrs), "lost"))
            if record.state in ("done", "failed"):
                continue
            if trial.state == TrialState.COMPLETE:
                record.state, record.result = "done", attrs.get("result")
            elif trial.state == TrialState.FAIL:
                if attrs.get("failure"):
                    record.state, record.failure, record.result = "failed", attrs["failure"], attrs.get("result")
                else:
                    if not attrs.get("interrupted"):
                        record.lost += 1
                    if record.state not in ("running", "waiting"):
                        record.state = "lost"
            elif trial.state == TrialState.RUNNING:
                record.state = "running"
            elif trial.state == TrialState.WAITING and record.state != "running":
                record.state = "waiting"
        for record in records.values():
            if record.state == "lost" and record.lost >= MAX_LOST:
                record.state = "failed"
                record.failure = f"its worker vanished {record.lost} times (killed, out of memory, or lost the storage)"
        return records

    # -- writing -----------------------------------------------------------------------------

    def ensure(self, jobs: Iterable[Job], records: dict[str, JobRecord]) -> int:
        """Enqueue each job that has no live or finished trial; returns how many were added."""
        added = 0
        for job in jobs:
            record = records.get(job.key)
            if record is not None and record.state != "lost":
                continue
            template = create_trial(state=TrialState.WAITING, user_attrs=job.attrs())
            retrying(lambda: self.storage.create_new_trial(self.study_id, template_trial=template))
            records[job.key] = JobRecord(job, "waiting", lost=record.lost if record else 0)
            added += 1
        return added

    def claim(self) -> Claim | None:
        """Take the oldest waiting job (atomically); None when there is none."""
        waiting = [t for t in self.trials() if t.state == TrialState.WAITING and "job" in t.user_attrs]
        for trial in sorted(waiting, key=lambda t: t.number):
            tid = trial_id(trial)
            if self.heartbeat_interval:
                # Beat before claiming: if the claim's reply is lost, the trial still goes stale.
                retrying(lambda: self.beat(tid))
            try:
                won = retrying(lambda: self.storage.set_trial_state_values(tid, TrialState.RUNNING))
            except optuna.exceptions.UpdateFinishedTrialError:
                won = False
            if not won:
                continue
            job = Job.from_attrs(trial.user_attrs)
            twin = self._earlier_twin(job, trial.number)
            if twin is not None:
                retrying(lambda: self.storage.set_trial_user_attr(tid, "duplicate_of", twin))
                retrying(lambda: self.storage.set_trial_state_values(tid, TrialState.PRUNED))
                continue
            retrying(lambda: self.storage.set_trial_user_attr(tid, "worker", self.worker))
            return Claim(job, tid, trial.number)
        return None

    def drop_settled_copies(self) -> int:
        """Drop the waiting copies of jobs already done or failed for good; returns how many.
        A worker that plans from a view older than another worker's completion of a job enqueues a
        second copy of it. While the search runs, the copy's claimer drops it; once the search is
        complete nobody claims again, and it stayed WAITING in the storage for good."""
        trials = self.trials()
        records = self.records(trials)
        dropped = 0
        for trial in trials:
            key = trial.user_attrs.get("job")
            if trial.state != TrialState.WAITING or key is None or records[key].state not in ("done", "failed"):
                continue
            tid = trial_id(trial)
            try:      # taken as a claim is, so a copy a worker claims at this moment is its, not ours
                won = retrying(lambda: self.storage.set_trial_state_values(tid, TrialState.RUNNING))
            except optuna.exceptions.UpdateFinishedTrialError:
                won = False
            if not won:
                continue
            twin = self._earlier_twin(Job.from_attrs(trial.user_attrs), trial.number)
            if twin is not None:
                retrying(lambda: self.storage.set_trial_user_attr(tid, "duplicate_of", twin))
            retrying(lambda: self.storage.set_trial_state_values(tid, TrialState.PRUNED))
            dropped += 1
        return dropped

    def _earlier_twin(self, job: Job, number: int) -> int | None:
        for other in self.trials():
            if other.number == number or other.user_attrs.get("job") != job.key:
                continue
            if other.state == TrialState.COMPLETE or (other.state == TrialState.FAIL and
                                                      other.user_attrs.get("failure")):
                return other.number
            if other.state in (TrialState.RUNNING, TrialState.WAITING) and other.number < number:
                return other.number
        return None

    def still_mine(self, claim: Claim) -> bool:
        trial = retrying(lambda: self.storage.get_trial(claim.trial_id))
        return trial.state == TrialState.RUNNING and trial.user_attrs.get("worker") == self.worker

    def complete(self, claim: Claim, result: dict[str, Any], value: float) -> bool:
        """Record the result; False when the job was taken over meanwhile (the result is dropped)."""
        try:
            retrying(lambda: self.storage.set_trial_user_attr(claim.trial_id, "result", result))
            retrying(lambda: self.storage.set_trial_state_values(claim.trial_id, TrialState.COMPLETE, [value]))
        except optuna.exceptions.UpdateFinishedTrialError:
            return False
        return True

    def fail(self, claim: Claim, failure: str, result: dict[str, Any] | None = None) -> None:
        try:
            retrying(lambda: self.storage.set_trial_user_attr(claim.trial_id, "failure", failure))
            if result is not None:
                retrying(lambda: self.storage.set_trial_user_attr(claim.trial_id, "result", result))
            retrying(lambda: self.storage.set_trial_state_values(claim.trial_id, TrialState.FAIL))
        except optuna.exceptions.UpdateFinishedTrialError:
            pass

    def interrupt(self, claim: Claim) -> None:
        """Give a job back (Ctrl-C, an error): it is planned again and resumes from its checkpoint."""
        try:
            retrying(lambda: self.storage.set_trial_user_attr(claim.trial_id, "interrupted", True), attempts=2)
            retrying(lambda: self.storage.set_trial_state_values(claim.trial_id, TrialState.FAIL), attempts=2)
        except Exception:
            pass  # the heartbeat will run out instead

    def recover_running(self) -> int:
        """Single-process storage: every RUNNING job belongs to a process that died; give it back."""
        n = 0
        for trial in self.trials():
            if trial.state == TrialState.RUNNING:
                self.interrupt(Claim(Job.from_attrs(trial.user_attrs), trial_id(trial), trial.number))
                n += 1
        return n

    def fail_stale(self) -> None:
        """Fail jobs whose worker stopped beating; they are planned again and resume from checkpoints."""
        if not self.heartbeat_interval:
            return
        if not self.rdb_heartbeat:
            limit = self.clock() - 2 * self.heartbeat_interval
            for trial in self.trials():
                if trial.state == TrialState.RUNNING and trial.user_attrs.get("heartbeat", limit) < limit:
                    try:
                        retrying(lambda: self.storage.set_trial_state_values(trial_id(trial), TrialState.FAIL))
                    except optuna.exceptions.UpdateFinishedTrialError:
                        pass
            return
        if self._study is None:
            self._study = optuna.load_study(study_name=self.study_name, storage=self.storage)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            retrying(lambda: optuna.storages.fail_stale_trials(self._study))
