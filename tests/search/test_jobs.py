"""The job queue on Optuna storage: exactly one claim per job, dropped twins, lost workers, heartbeats."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from hyperprune.config import from_dict
from hyperprune.search import SearchConfig, run_search
from hyperprune.search.jobs import MAX_LOST, Job, JobQueue
from hyperprune.search.storage import open_storage

from .conftest import tiny_search_raw


@pytest.fixture(params=["sqlite", "journal"])
def storage(request, tmp_path):
    if request.param == "sqlite":
        return open_storage(f"sqlite:///{tmp_path / 'jobs.db'}")
    return open_storage(f"journal:///{tmp_path / 'jobs.log'}")


def test_a_job_enqueued_twice_runs_once(storage):
    queue = JobQueue(storage, "s.jobs")
    job = Job("score", 1, 3)
    queue.ensure([job], {})
    queue.ensure([job], {})                      # a second planner, at the same moment
    first = queue.claim()
    assert first is not None and first.job == job
    assert queue.claim() is None                 # the twin is dropped, not run
    states = sorted(t.state.name for t in queue.trials())
    assert states == ["PRUNED", "RUNNING"]
    assert queue.still_mine(first)
    assert queue.complete(first, {"score": 1.5}, 1.5)
    records = queue.records()
    assert records[job.key].state == "done" and records[job.key].result == {"score": 1.5}
    assert queue.ensure([job], records) == 0     # done: never planned again


def test_a_copy_planned_from_a_stale_view_is_dropped_when_the_search_ends(storage):
    """Worker A plans from records read before worker B enqueued, ran and completed a job, and
    enqueues it again. Once the search is complete nobody claims the copy: it stayed WAITING (seen
    in the three-worker MySQL test). The completing worker drops it; B's result stands."""
    a, b = JobQueue(storage, "s.jobs"), JobQueue(storage, "s.jobs")
    job = Job("final", 3, 3)
    stale = a.records()                          # A's view: the job not planned yet
    assert b.ensure([job], b.records()) == 1
    claim = b.claim()
    assert b.complete(claim, {"valid_ppl": 2.0}, 2.0)
    assert a.ensure([job], stale) == 1           # the copy
    assert sorted(t.state.name for t in a.trials()) == ["COMPLETE", "WAITING"]
    assert a.drop_settled_copies() == 1
    copy = next(t for t in a.trials() if t.state != TrialState.COMPLETE)
    assert (copy.state, copy.user_attrs["duplicate_of"]) == (TrialState.PRUNED, claim.number)
    assert a.records()[job.key].result == {"valid_ppl": 2.0}
    assert a.drop_settled_copies() == 0 and a.claim() is None


def test_a_waiting_job_not_yet_done_is_not_dropped(storage):
    queue = JobQueue(storage, "s.jobs")
    queue.ensure([Job("score", 1, 0)], {})
    assert queue.drop_settled_copies() == 0
    assert queue.claim().job == Job("score", 1, 0)


def test_lost_jobs_are_planned_again_until_they_look_poisonous(storage):
    queue = JobQueue(storage, "s.jobs")
    job = Job("final", 3, 0)
    records = {}
    for attempt in range(MAX_LOST):
        assert queue.ensure([job], records) == 1
        claim = queue.claim()
        storage.set_trial_state_values(claim.trial_id, TrialState.FAIL)     # its worker vanished
        records = queue.records()
    assert records[job.key].state == "failed" and "vanished 3 times" in records[job.key].failure
    assert queue.ensure([job], records) == 0


def test_an_interrupted_job_does_not_count_as_lost(storage):
    queue = JobQueue(storage, "s.jobs")
    job = Job("dense", 2)
    for _ in range(MAX_LOST + 1):
        queue.ensure([job], queue.records())
        queue.interrupt(queue.claim())
    record = queue.records()[job.key]
    assert record.state == "lost" and record.lost == 0


def test_a_failure_with_a_reason_is_final(storage):
    queue = JobQueue(storage, "s.jobs")
    job = Job("score", 1, 2)
    queue.ensure([job], {})
    queue.fail(queue.claim(), "diverged: nan", {"epochs_trained": 1})
    record = queue.records()[job.key]
    assert record.state == "failed" and record.failure == "diverged: nan" and record.result == {"epochs_trained": 1}


def test_journal_heartbeats_let_another_worker_take_over(tmp_path):
    url = f"journal:///{tmp_path / 'jobs.log'}"
    now = [1000.0]                               # both workers' clock, moved by the test
    dead = JobQueue(open_storage(url), "s.jobs", heartbeat_interval=1, clock=lambda: now[0])
    dead.ensure([Job("score", 1, 0)], {})
    claim = dead.claim()                         # beats once, then the worker is killed: no more beats
    alive = JobQueue(open_storage(url), "s.jobs", heartbeat_interval=1, clock=lambda: now[0])
    now[0] += 2.0                                # 2 intervals: not stale yet
    alive.fail_stale()
    assert alive.records()["score:0@1"].state == "running"
    now[0] += 0.2
    alive.fail_stale()
    records = alive.records()
    assert records["score:0@1"].state == "lost"
    alive.ensure([claim.job], records)
    taken = alive.claim()
    assert taken is not None and taken.job == claim.job
    assert not dead.still_mine(claim)


def test_a_whole_search_on_a_journal_file(tiny_corpus_dir, tmp_path):
    raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "run",
                          search={"n_candidates": 3, "storage": f"journal:///{tmp_path / 'study.log'}"})
    results = run_search(from_dict(SearchConfig, raw), verbose=False)
    assert results.status == "complete" and results.winner is not None
    study = optuna.load_study(study_name="run", storage=open_storage(raw["search"]["storage"]))
    assert sorted(t.user_attrs["candidate"] for t in study.trials) == \
        sorted(c["id"] for c in results.candidates if c["status"] != "duplicate")
