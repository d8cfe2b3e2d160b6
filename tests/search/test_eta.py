"""A search's ETA: the candidate and dense epochs still planned, at the seconds per epoch spent so far
(training and spectra), the one formula `train.progress.seconds_left`."""

from __future__ import annotations

from types import SimpleNamespace

from hyperprune.search.console import eta_s
from hyperprune.search.jobs import Job, JobRecord


def test_the_consoles_eta_counts_each_model_once_at_its_furthest_epoch():
    cfg = SimpleNamespace(search=SimpleNamespace(n_candidates=4), final_epochs=5)
    strategy = SimpleNamespace(planned_epochs=lambda unique: 3 * unique,       # 12 candidate epochs
                               planned_seed_epochs=lambda: 0)                 # final_seeds 1
    records = {
        "dense@2": JobRecord(Job("dense", 2), "done", {"train_s": 20.0, "spectrum_s": 4.0}),
        "score:0@1": JobRecord(Job("score", 1, 0), "done", {"epochs_trained": 1, "train_s": 9.0}),
        # the same candidate again further on: its furthest epoch and seconds count, not both jobs'
        "score:0@2": JobRecord(Job("score", 2, 0), "done", {"epochs_trained": 2, "train_s": 18.0,
                                                              "spectrum_s": 2.0}),
        "score:1@1": JobRecord(Job("score", 1, 1), "running"),
    }
    plan = SimpleNamespace(proposals=[])           # pool not drawn in full: n_candidates are planned
    # done: dense 2 + candidate 0's 2 = 4 epochs in 20 + 18 train + 4 + 2 spectrum = 44 s;
    # planned: 3 * 4 + 5 = 17 epochs, so 13 left at 11 s each
    assert eta_s(cfg, strategy, plan, records) == 143.0
    assert eta_s(cfg, strategy, plan, {}) is None
