"""benchmarks/dense_seed_effect.py on the committed first pool: the figures docs/paper.md quotes."""

from __future__ import annotations

import pytest

from hyperprune import pools

from tests.benchmarks.conftest import load_script


def test_an_own_dense_seed_barely_moves_the_ls_ranking_of_the_first_pool():
    effect = load_script("dense_seed_effect").effect(pools.load("ptb"), subpools=200)
    assert round(effect[2]["rho_s0_s1"], 2) == 0.94 and round(effect[2]["rho_s0_s2"], 2) == 0.97
    assert [round(effect[e]["rho_s0_s1"], 2) for e in (3, 4, 5)] == [1.0, 1.0, 1.0]
    assert 0 < effect[2]["kept_changed"] < 0.15 and effect[5]["kept_changed"] == pytest.approx(0.0)
