"""An ASHA candidate's trial across workers: a worker held between two writes, then taken over."""

from __future__ import annotations

import threading

from optuna.trial import TrialState

from hyperprune.search.asha_trial import AshaTrial
from hyperprune.search.jobs import Job
from hyperprune.search.optuna_internals import storage_of, trial_id
from hyperprune.search.proposals import Proposal
from hyperprune.search.runner import SearchLoop, _open_study
from hyperprune.search.storage import open_storage
from hyperprune.search.strategies import strategy_for


class HeldBeforeFailing:
    """A worker's storage that holds the worker at its first write of state FAIL (alive, as a slow
    worker is) until `release` is set."""

    def __init__(self, storage):
        self._storage = storage
        self.arrived, self.release = threading.Event(), threading.Event()

    def set_trial_state_values(self, trial_id, state, values=None):
        if state == TrialState.FAIL and not self.arrived.is_set():
            self.arrived.set()
            self.release.wait()
        return self._storage.set_trial_state_values(trial_id, state, values)

    def __getattr__(self, name):
        return getattr(self._storage, name)


def test_a_duplicate_whose_worker_was_held_before_failing_its_trial_is_not_waited_on(tiny_cfg, tmp_path):
    """Candidate 1 repeats candidate 0's settings. Its worker marks its trial `duplicate_of` 0 and is
    held before the write that fails the trial; presumed dead, its job is taken over and completed as
    a duplicate. Candidate 2, in candidate-order, must not wait for candidate 1 to report at rung 1:
    it never will. It did, forever: the trial stayed RUNNING and its job was done, neither failed
    (no longer waited on) nor waiting (given back and run)."""
    cfg = tiny_cfg(train={"epochs": 4}, search={"strategy": "asha", "asha_promotion": "candidate-order",
                                                "n_candidates": 3, "space": {"sparse.init": ["uniform"]}})
    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = open_storage(url)
    _open_study(cfg, storage)
    loop = SearchLoop(cfg, strategy_for(cfg), storage, verbose=False, poll_s=0.0)
    queue, space, pruner = loop.queue, loop.bench.space, loop.strategy.pruner()
    queue.ensure([Job("asha", 4, c) for c in range(3)], {})

    first, held_claim, waiter_claim = queue.claim(), queue.claim(), queue.claim()
    assert (first.job.candidate, held_claim.job.candidate, waiter_claim.job.candidate) == (0, 1, 2)
    AshaTrial.open(loop.study, space, cfg, 0, pruner).report(1, 4.0)      # candidate 0 reports at rung 1

    # candidate 1, on a worker that is held
    held_storage = HeldBeforeFailing(open_storage(url))
    held_study = type(loop.study)(study_name=cfg.study_name, storage=held_storage)
    held_worker = threading.Thread(target=lambda: outcome.append(AshaTrial.open(held_study, space, cfg, 1, pruner)))
    outcome: list[AshaTrial] = []
    held_worker.start()
    assert held_storage.arrived.wait(timeout=120)           # a guard against a hang, not a timing
    held = next(t for t in loop.study.get_trials(deepcopy=False) if t.user_attrs.get("candidate") == 1)
    assert (held.state, held.user_attrs["duplicate_of"]) == (TrialState.RUNNING, 0)

    storage.set_trial_state_values(held_claim.trial_id, TrialState.FAIL)   # presumed dead (stale heartbeat)
    records = queue.records()
    assert records["asha:1@4"].state == "lost"
    queue.ensure([held_claim.job], records)
    taker = queue.claim()
    result, _ = loop.bench.run(taker.job, [], records, loop.lease(taker))
    assert result["duplicate_of"] == 0
    assert queue.complete(taker, result, 0.0) and queue.records()["asha:1@4"].state == "done"

    # candidate 2, settings of its own, reports 4.5 at rung 1 and asks whether it goes on
    own = loop.study.ask()
    for key, value in (("candidate", 2), ("fingerprint", "own settings")):
        storage_of(loop.study).set_trial_user_attr(trial_id(own), key, value)
    waiter = AshaTrial(loop.study, storage.get_trial(trial_id(own)), Proposal(2, {}, "own settings", None), pruner)
    waiter.report(1, 4.5)
    waits = []

    def idle(waiting_on):
        # Nothing else runs in this test: a second wait on the same state would be the same, forever.
        waits.append(list(waiting_on))
        assert len(waits) == 1, f"candidate 2 waits again on {waiting_on}: {dict(queue.records())}"
        return loop.strategy.idle(loop.lease(waiter_claim), waiting_on)

    # n = 2 at rung 1 (4.0 and its own 4.5): the best 1 goes on, so candidate 2 stops
    assert loop.strategy.stops(waiter, 1, 4.5, idle) is True
    assert waits == []                                      # candidate 1 was settled: never waited on
    assert loop.strategy.idle(loop.lease(waiter_claim), [1]) == [1]              # and a wait on a job that is done ends at once

    # the taker ended the trial the held worker could not; released, the held worker finds it ended
    assert storage.get_trial(trial_id(held)).state == TrialState.FAIL
    held_storage.release.set()
    held_worker.join()
    assert [t.proposal.duplicate_of for t in outcome] == [0]


def test_a_worker_whose_trial_was_ended_by_its_taker_drops_the_job(tiny_cfg, tmp_path, capsys):
    """A slow worker passes its lease check at the end of a rung, is presumed dead while it scores,
    and its taker ends the trial (here: pruned at rung 1, score 4.0). The slow worker's report then
    finds the trial finished. It raised Optuna's UpdateFinishedTrialError and failed the worker;
    now it drops the job as on a lost lease, and the taker's numbers stand."""
    import pytest

    from hyperprune.search.asha_trial import TrialTakenOver

    cfg = tiny_cfg(train={"epochs": 4}, search={"strategy": "asha", "n_candidates": 1,
                                                "space": {"sparse.init": ["uniform"]}})
    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = open_storage(url)
    _open_study(cfg, storage)
    loop = SearchLoop(cfg, strategy_for(cfg), storage, verbose=True, poll_s=0.0)
    pruner = loop.strategy.pruner()
    slow = AshaTrial.open(loop.study, loop.bench.space, cfg, 0, pruner)
    taker = AshaTrial.open(loop.study, loop.bench.space, cfg, 0, pruner)    # finds the same trial
    assert taker.proposal == slow.proposal and not taker.finished
    taker.report(1, 4.0)
    taker.prune()
    with pytest.raises(TrialTakenOver):
        slow.report(1, 5.0)
    stored = storage.get_trial(trial_id(slow.frozen))
    assert (stored.state, stored.intermediate_values) == (TrialState.PRUNED, {1: 4.0})

    # in the search loop: the job is dropped, neither failed nor completed by this worker
    loop.queue.ensure([Job("asha", 4, 0)], {})
    claim = loop.queue.claim()

    def run_that_finds_its_trial_ended(*args, **kwargs):
        slow.report(2, 5.0)

    loop.bench.run = run_that_finds_its_trial_ended
    loop.execute(claim, loop.plan(loop.queue.records()), loop.queue.records())
    assert "asha:0@4: taken over by another worker; dropping this copy" in capsys.readouterr().out
    assert loop.queue.records()["asha:0@4"].state == "running"      # left as it was: neither failed nor done
