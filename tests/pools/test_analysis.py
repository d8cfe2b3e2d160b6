"""hyperprune.pools.analysis on the synthetic long pool (tests/pools/conftest.py): every number known
by construction; and the paper's own pool, which must give the paper's 0.72 and 0.42."""

from __future__ import annotations

import math

import pytest

from hyperprune.pools import analyse, load, ls_distance, score_signal, w_star

SWAP_RHO = 1 - 6 * 20 / (20 ** 3 - 20)          # neighbours swapped: sum d^2 = 20
SWAP_TAU = (190 - 2 * 10) / 190                  # 10 discordant pairs of 190


@pytest.fixture(scope="module")
def result(long_pool):
    return analyse(long_pool, n_subpools=200, n_boot=200)


def test_rank_correlations_are_exact_for_constructed_rankings(result):
    rho = result["correlations"]["test"]
    assert result["recorded"] == [1, 2, 3, 4, 5, 6, 8, 12]          # every recorded window before T
    for w in map(str, result["recorded"]):
        assert rho["ls_reference"][w]["spearman"] == pytest.approx(SWAP_RHO, abs=1e-12)
        assert rho["ls_reference"][w]["kendall"] == pytest.approx(SWAP_TAU, abs=1e-12)
        assert rho["ls_reference_p5"][w]["spearman"] == pytest.approx(1.0)
        assert rho["ls_standard_k64"][w]["spearman"] == pytest.approx(-1.0)
        assert rho["valid_ppl"][w]["spearman"] == pytest.approx(1.0)
        assert rho["valid_ppl"][w]["spearman_ci"] == pytest.approx([1.0, 1.0])
        assert rho["death_rate"][w]["spearman"] is None                 # constant: no ranking
        assert result["correlations"]["valid"]["valid_ppl"][w]["spearman"] == pytest.approx(1.0)
    lo, hi = rho["ls_reference"]["3"]["spearman_ci"]
    assert lo <= SWAP_RHO <= hi <= 1.0


def test_the_paired_difference_is_exact_and_its_ci_brackets_it(result):
    d = result["paired"]["ls_reference"]["3"]
    assert d["n"] == 20 and d["difference"] == pytest.approx(SWAP_RHO - 1.0, abs=1e-12)
    assert d["ci"][0] <= d["difference"] <= d["ci"][1] <= 0.0
    assert d["share_above_0"] == 0.0                     # loss ranks perfectly: LS can never beat it
    assert result["paired"]["ls_reference_p5"]["3"]["difference"] == pytest.approx(0.0)


def test_w_star_duplicates_and_seed_noise(long_pool, result):
    assert w_star(long_pool) == result["w_star"] == 2      # dense 3.78x its final at w = 1, 2.39x at w = 2
    assert result["dense_ratio"][1] == pytest.approx(1 + 250 / 90)
    assert result["duplicates"] == {"c20-s0": "c05-s0"} and len(result["candidates"]) == 20
    noise = result["seed_noise"]
    assert noise["runs"]["c00"]["test"]["sd"] == pytest.approx(1.0)
    assert noise["runs"]["c01"]["test"]["sd"] == pytest.approx(2.0)
    assert noise["df"] == 4 and noise["pooled_sd"]["test"] == pytest.approx(math.sqrt(2.5))


def test_the_replays_find_the_best_and_cost_what_was_counted_by_hand(result):
    s = result["replay"]["strategies"]
    assert result["replay"]["subpool_size"] == 16
    # 16 -> 9 -> 5 -> 3 -> 2 at e0, e0+3, e0+6, e0+9: 7 stop at e0, 4 at e0+3, 2 at e0+6, 1 at e0+9, 2 reach 16
    for e0 in (2, 3):                                     # w* and 3
        loss = 7 * e0 + 4 * (e0 + 3) + 2 * (e0 + 6) + (e0 + 9) + 2 * 16
        assert s[f"lsh_valid_ppl_e{e0}"]["windows"]["mean"] == loss
        assert s[f"lsh_valid_ppl_e{e0}"]["seconds"]["mean"] == pytest.approx(10.0 * loss)
        # LS also trains dense to e0+9, and measures 16 + 9 + 5 + 3 candidate and 4 dense spectra at 1 s
        assert s[f"lsh_ls_reference_e{e0}"]["windows"]["mean"] == loss + e0 + 9
        assert s[f"lsh_ls_reference_e{e0}"]["seconds"]["mean"] == pytest.approx(10.0 * (loss + e0 + 9) + 37)
        # probe2 swaps the best with the second: it survives the first round, probe5 then ranks exactly
        for name in ("lsh_valid_ppl", "lsh_ls_reference", "asha_valid_ppl"):
            assert s[f"{name}_e{e0}"]["regret"]["mean"] == 0.0 and s[f"{name}_e{e0}"]["picked_best"] == 1.0
            assert s[f"{name}_e{e0}"]["within_noise"] == 1.0
        # the reversed signal keeps the two worst of each sub-pool to the end
        assert s[f"lsh_ls_standard_k64_e{e0}"]["picked_best"] == 0.0
    assert s["full"]["windows"]["mean"] == 16 * 16 and s["full"]["regret"]["mean"] == 0.0
    assert s["random"]["windows"]["mean"] == 16 and s["random"]["regret"]["mean"] > 0
    assert s["full"]["leave_one_out"]["change"] == 0.0


def test_without_set_signed_leaves_15_candidates(long_pool):
    pool = long_pool.without(lambda r: r.params["sparse.death"] == "SET-signed", "without SET-signed")
    assert [r.candidate for r in pool.candidates] == [i for i in range(20) if i % 4] and pool.dense is not None
    result = analyse(pool, n_subpools=0, n_boot=50)
    assert result["correlations"]["test"]["valid_ppl"]["3"]["spearman"] == pytest.approx(1.0)
    assert result["seed_noise"]["candidates"] == ["c01"]          # c00 is SET-signed


def test_score_signal_of_a_user_signal(long_pool):
    top1 = ls_distance("reference", "probe5", "l2-topk", k=1)    # the largest exponent only: here d itself
    scored = score_signal(long_pool, top1, window=3, n_boot=100, n_subpools=100)
    assert scored["correlation"]["spearman"] == pytest.approx(1.0)
    assert scored["paired_difference"]["difference"] == pytest.approx(0.0)
    assert scored["replay"]["signal"]["regret"]["mean"] == 0.0
    assert scored["replay"]["signal"]["windows"]["mean"] == 107          # e0 = 3, by hand above

    seen = []

    def peeking(run, dense):
        seen.append((run.final, max(w.window for w in run.windows)))
        return -run.windows[-1].valid_ppl                                # the order reversed
    reversed_ = score_signal(long_pool, peeking, window=3, n_boot=50, n_subpools=20)
    assert reversed_["correlation"]["spearman"] == pytest.approx(-1.0)
    assert reversed_["paired_difference"]["difference"] == pytest.approx(-2.0)
    assert all(final is None for final, _ in seen)                        # a signal never sees the final
    assert reversed_["replay"]["signal"]["picked_best"] == 0.0


def test_the_papers_pool_gives_the_papers_rho():
    result = analyse(load("paper"), n_boot=200)
    rho = result["correlations"]["test"]
    assert len(result["candidates"]) == 26 and result["replay"] is None
    assert round(rho["ls_reference"]["3"]["spearman"], 2) == 0.72       # paper Fig. 1-B
    assert round(rho["valid_ppl"]["3"]["spearman"], 2) == 0.42          # paper Fig. 1-C
    assert rho["ls_reference"]["3"]["spearman"] == pytest.approx(163 / 225, abs=1e-12)  # 1 - 6 sum d^2 / (n^3 - n)
    assert round(rho["death_rate"]["3"]["spearman"], 2) == -0.49
    lo, hi = rho["ls_reference"]["3"]["spearman_ci"]
    assert lo < 0.72 < hi


def test_windows_where_validation_did_not_improve_are_counted(long_pool, result):
    from dataclasses import replace

    from hyperprune.pools.analysis import not_improving

    assert result["not_improving"] == {"count": 0, "of": 20 * 8, "pairs": []}
    run = long_pool.candidates[0]
    worse = tuple(replace(w, valid_ppl=w.valid_ppl + 1000) if w.window in (4, 7) else w for w in run.windows)
    pool = replace(long_pool, runs=[replace(run, windows=worse) if r is run else r for r in long_pool.runs])
    assert not_improving(pool)["pairs"] == ["c00-s0@4"]          # window 7 is not an early recorded window
