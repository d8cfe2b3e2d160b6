"""Search strategies as objects: the registry, and each strategy's plan, cost and rules."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hyperprune.errors import UserError
from hyperprune.search.strategies import strategy_for, strategy_names, strategy_title
from hyperprune.search.strategies.asha import ASHA, asha_rungs
from hyperprune.search.strategies.full import FullTraining
from hyperprune.search.strategies.lsh import LSH


def cfg(strategy="lsh", metric="ls", n=26, e0=3, ei=3, final=100, keep="half+1", finalists=2, sampler="tpe"):
    search = SimpleNamespace(strategy=strategy, metric=metric, n_candidates=n, first_epoch=e0, epochs_per_round=ei,
                             keep=keep, finalists=finalists, sampler=sampler, batch=1, asha_promotion="arrival")
    return SimpleNamespace(search=search, final_epochs=final, seed=0)


def test_registry_builds_each_strategy_and_names_the_closest_for_a_typo():
    assert strategy_names() == ["asha", "full", "lsh"]
    assert type(strategy_for(cfg("lsh"))) is LSH and type(strategy_for(cfg("full"))) is FullTraining
    assert type(strategy_for(cfg("asha"))) is ASHA
    assert strategy_title("asha") == "ASHA search" and strategy_title("retired") == "retired"
    with pytest.raises(UserError, match="search.strategy.*'lhs'.*lsh"):
        strategy_for(cfg("lhs"))


def test_lsh_plans_the_papers_rounds_and_cost():
    # 26 -> 14 -> 8 -> 5 -> 3 -> 2 at epochs 3, 6, ..., 15; finalists to 100
    lsh = LSH(cfg())
    assert [(r["epoch"], r["candidates"], r["kept"]) for r in lsh.planned_rounds()] == \
        [(3, 26, 14), (6, 14, 8), (9, 8, 5), (12, 5, 3), (15, 3, 2)]
    # the dense spectrum is also stored one round past the last planned one (as it always was)
    assert lsh.compared_epochs() == [3, 6, 9, 12, 15, 18]
    # 26*3 + 14*3 + 8*3 + 5*3 + 3*3 + 2*(100 - 15)
    assert lsh.planned_epochs(26) == 78 + 42 + 24 + 15 + 9 + 170
    assert lsh.planned_spectra() == 6 + (26 + 14 + 8 + 5 + 3)
    assert LSH(cfg(metric="loss")).compared_epochs() == [] and LSH(cfg(metric="loss")).planned_spectra() == 0
    # its own settings are constructor arguments, checked when it is built; the YAML's are passed
    assert (LSH(cfg(), finalists=3, epochs_per_round=2).sizes, strategy_for(cfg(finalists=3, ei=2)).sizes) == \
        ([26, 14, 8, 5, 3], [26, 14, 8, 5, 3])
    assert strategy_for(cfg(finalists=3, ei=2)).epochs_per_round == 2
    with pytest.raises(UserError, match=r"^search.finalists = 0 is out of range; allowed: \[1, inf\]$"):
        LSH(cfg(), finalists=0)
    with pytest.raises(UserError, match="search.finalists = 27 is more than search.n_candidates = 26"):
        LSH(cfg(), finalists=27)


def test_full_and_asha_costs_and_compared_epochs():
    assert FullTraining(cfg("full")).planned_cost() == {"candidate_epochs": 2600, "full_training_epochs": 2600,
                                                        "dense_epochs": 100}
    assert FullTraining(cfg("full")).compared_epochs() == []
    asha = ASHA(cfg("asha", e0=1, final=10, keep=0.5))
    assert asha.rungs == asha_rungs(1, 0.5, 10) == [1, 2, 4, 8, 10] and asha.eta == 2
    assert asha.compared_epochs() == [1, 2, 4, 8, 10] and asha.planned_spectra() == 5 + 26 * 5
    assert ASHA(cfg("asha", keep=1 / 3)).eta == 3
    with pytest.raises(UserError, match="grid is not available with strategy asha"):
        ASHA(cfg("asha", sampler="grid"))
    # its own setting is a constructor argument, checked as Optuna's samplers check theirs
    assert ASHA(cfg("asha"), promotion="candidate-order").promotion == "candidate-order"
    assert ASHA(cfg("asha")).promotion == "arrival"
    with pytest.raises(UserError, match=r"unknown search.asha_promotion 'order'.*arrival, candidate-order"):
        ASHA(cfg("asha"), promotion="order")


def test_asha_promotion_rule_is_optunas_successive_halving():
    """`promotable` against Optuna's SuccessiveHalvingPruner on trials reported one after another:
    the same stop/go at every rung, for random scores and ties, at eta 2 and 3."""
    import random
    import warnings

    import optuna

    from hyperprune.search.strategies.asha import promotable

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(0)
    for eta in (2, 3):
        rungs = [1, eta, eta * eta]
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta,
                                                        min_early_stopping_rate=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study = optuna.create_study(pruner=pruner)
        reported: dict[int, list[float]] = {r: [] for r in rungs}
        decisions = 0
        for _ in range(40):
            trial = study.ask()
            for epoch in rungs[:-1]:
                value = float(rng.choice([rng.random(), 0.5]))       # some exact ties
                trial.report(value, epoch)
                ours = not promotable(value, reported[epoch], eta)
                assert trial.should_prune() == ours
                reported[epoch].append(value)
                decisions += 1
                if ours:
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    break
            else:
                study.tell(trial, 0.0)
        assert decisions > 60


def test_asha_candidate_order_waits_for_lower_candidates_then_applies_the_rule():
    class Trial:
        """Lower candidates 0 and 1: 1 is training towards the rung twice, then reports 0.2."""
        def __init__(self):
            self.reads = [([1], [0.1]), ([1], [0.1]), ([], [0.1, 0.2])]

        def competitors_below(self, epoch):
            return self.reads.pop(0)

        def should_stop(self):
            raise AssertionError("candidate-order does not ask Optuna's pruner")

    c = cfg("asha", e0=1, final=4, keep=0.5)
    asha, waits = ASHA(c, promotion="candidate-order"), []
    idle = lambda waiting_on: waits.append(list(waiting_on)) or []
    # n = 3 (0.1, 0.2 and its own): only the best 1 goes on
    assert asha.stops(Trial(), 1, 0.15, idle) is True and waits == [[1], [1]]
    trial = Trial()
    assert asha.stops(trial, 1, 0.05, idle) is False
    # a lower candidate whose job failed for good is no longer waited on
    trial = Trial()
    trial.reads = [([1], [0.1]), ([1], [0.1])]
    assert asha.stops(trial, 1, 0.05, lambda waiting_on: [1]) is False


def test_a_new_strategy_is_one_class_in_the_registry(tiny_cfg):
    """LSH with another round schedule, written as one subclass and registered: a search runs it end
    to end and records it, and nothing else had to change."""
    from hyperprune.search import run_search
    from hyperprune.search.strategies import STRATEGIES

    class OneRound(LSH):
        """Scores every candidate at e0 and keeps the finalists at once: a single round."""
        name = "lsh-one-round"
        title = "LSH search, one round"

        def __init__(self, cfg, **settings):
            super().__init__(cfg, **settings)
            s = self.settings
            self.keep = s.finalists / s.n_candidates
            self.sizes = [s.n_candidates, s.finalists]

    STRATEGIES.register("lsh-one-round")(OneRound)
    try:
        cfg = tiny_cfg(search={"strategy": "lsh-one-round", "n_candidates": 6, "sampler": "grid"})
        results = run_search(cfg, verbose=False)
        plain = run_search(tiny_cfg(tiny_cfg().run_dir + "-lsh", search={"n_candidates": 6, "sampler": "grid"}),
                           verbose=False)
    finally:
        STRATEGIES._items.pop("lsh-one-round")
    assert results.strategy == "lsh-one-round" and results.status == "complete"
    unique = len([c for c in results.candidates if c["status"] != "duplicate"])
    assert [(r["epoch"], len(r["candidates"]), len(r["kept"])) for r in results.rounds] == [(1, unique, 2)]
    assert len(plain.rounds) > 1                     # the paper's schedule on the same pool: more rounds
    assert results.winner["id"] in results.rounds[0]["kept"]
