"""The main study as optuna-dashboard shows it: `study.best_trial` is the search's winner."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
from optuna.trial import TrialState

from hyperprune.search import dashboard
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.strategies import strategy_for


def test_eliminated_candidates_are_pruned_and_the_best_trial_is_the_winner(tiny_cfg):
    """Issue 21: candidate 2 had the best round score, so with eliminated and finalist trials all
    COMPLETE on their scores, best_trial was candidate 2 while the winner (lowest final perplexity)
    was candidate 1."""
    strategy = strategy_for(tiny_cfg())
    study = optuna.create_study()
    space = SimpleNamespace(distributions={"x": optuna.distributions.FloatDistribution(0, 1)})
    for c in range(3):
        dashboard.start_candidate(study, space, SimpleNamespace(slot=c, params={"x": c / 4}))
    scores = {0: {1: 0.9, 2: 0.8}, 1: {1: 0.5, 2: 0.6}, 2: {1: 0.1, 2: 0.2}}     # candidate: epoch -> score
    for c, by_epoch in scores.items():
        for epoch, score in by_epoch.items():
            dashboard.record_scores(study, Job("score", epoch, c), strategy.dashboard_values(
                Job("score", epoch, c), {"score": score}), {"epochs_trained": epoch})
    finals = {1: 101.0, 2: 140.0}                                 # final validation perplexities
    records = {f"final:{c}@3": JobRecord(Job("final", 3, c), "done",
                                          {"valid_ppl": ppl, "test_ppl": ppl + 1, "epochs_trained": 3})
               for c, ppl in finals.items()}
    plan = SimpleNamespace(failed={}, eliminated={0: 1})
    assert dashboard.finish_candidates(study, plan, records, strategy.dashboard_value) == 3

    trials = {t.user_attrs["candidate"]: t for t in study.trials}
    assert trials[0].state == TrialState.PRUNED and trials[0].value is None
    assert trials[0].intermediate_values == {1: 0.9, 2: 0.8}                # its last score: 0.8 at epoch 2
    assert [trials[c].state for c in (1, 2)] == [TrialState.COMPLETE] * 2
    assert [trials[c].value for c in (1, 2)] == [101.0, 140.0]
    assert trials[2].intermediate_values == {1: 0.1, 2: 0.2}
    assert strategy.pick_winner(finals) == 1 == study.best_trial.user_attrs["candidate"]
