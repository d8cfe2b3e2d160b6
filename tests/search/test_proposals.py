"""The TPE sampler is built with hyperopt's settings, which the released code used through `fmin`."""

from __future__ import annotations

import pytest

from hyperprune.search.proposals import HYPEROPT_STARTUP_TRIALS, Proposer, make_sampler
from hyperprune.search.rounds import PENDING
from hyperprune.search.space import SearchSpace


@pytest.fixture
def space(tiny_cfg):
    return SearchSpace.from_config(tiny_cfg())          # the paper's space over a tiny run


def _pool(space, sampler: str, n: int, score) -> list[dict]:
    proposer = Proposer(space, sampler, seed=3, n_candidates=n, batch=1)
    pool = proposer.propose(lambda slot: score(proposer.proposals[slot].params))
    return [p.params for p in pool]


def test_tpe_draws_twenty_random_start_up_trials_like_hyperopt(space):
    assert HYPEROPT_STARTUP_TRIALS == 20
    sampler = make_sampler("tpe", 0, space)
    assert sampler._n_startup_trials == 20
    # Until 20 trials are finished TPE samples from its seeded random sampler: the pool is the
    # random sampler's, draw for draw, whatever the scores.
    score = lambda params: params["sparse.death_rate"]
    tpe = _pool(space, "tpe", 20, score)
    assert tpe == _pool(space, "random", 20, score)
    assert tpe == _pool(space, "tpe", 20, lambda params: -params["sparse.death_rate"])


def test_pending_scores_hold_the_pool_back(space):
    proposer = Proposer(space, "tpe", seed=3, n_candidates=5, batch=2)
    assert len(proposer.propose(lambda slot: PENDING)) == 2
