"""hyperprune.pools.replay: ASHA replayed with the search's promotion rule equals Optuna's pruner run
trial after trial; leave-one-out reads the sub-pools that lack each candidate."""

from __future__ import annotations

import warnings

import numpy as np
import optuna

from hyperprune.pools import replay


def optuna_asha(scores: np.ndarray, e0: int, total: int) -> tuple[list[int], np.ndarray]:
    """Optuna's SuccessiveHalvingPruner as the search builds it, trials one after the other."""
    from hyperprune.search.strategies.asha import asha_rungs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=e0, reduction_factor=2, min_early_stopping_rate=0)
    reached, completed = np.zeros(len(scores), dtype=int), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
        for c in range(len(scores)):
            trial = study.ask()
            for epoch in asha_rungs(e0, "half+1", total):
                trial.report(float(scores[c, epoch - 1]), epoch)
                reached[c] = epoch
                if epoch < total and trial.should_prune():
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    break
            else:
                study.tell(trial, float(scores[c, total - 1]))
                completed.append(c)
    return completed, reached


def test_asha_replay_equals_optunas_pruner():
    rng = np.random.default_rng(3)
    for trial in range(20):
        scores = rng.normal(size=(16, 12)).cumsum(axis=1)
        scores[rng.integers(16), :] = scores[rng.integers(16), :]          # ties too
        completed, reached = optuna_asha(scores, e0=3, total=12)
        valid = rng.normal(size=16)
        ours = replay.replay_asha(scores, valid, e0=3, total=12)
        assert ours.reached.tolist() == reached.tolist()
        assert ours.winner == min(completed, key=lambda c: (valid[c], c))


def test_leave_one_out_finds_the_candidate_a_result_rests_on():
    # 4 sub-pools of 2 from candidates a, b, c: the best is picked only where "a" is present
    members = np.array([[0, 1], [0, 2], [1, 2], [0, 1]])
    result = {"regret": np.array([0.0, 0.0, 3.0, 0.0])}
    loo = replay.leave_one_out(result, members, ["a", "b", "c"])
    assert loo["picked_best"] == 0.75 and loo["candidate"] == "a"
    assert loo["without"] == 0.0 and loo["change"] == -0.75 and loo["subpools_without"] == 1
