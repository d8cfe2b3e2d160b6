"""The seed-noise rule (`search/seed_noise.py`) on numbers worked by hand.

Winner seeds [100, 102, 104] and runner-up [103, 105, 107]: means 102 and 105, both sample
variances 4, so se² = 4/3 + 4/3 = 8/3 and Welch's df = (8/3)² / (2 · (4/3)² / 2) = 4 exactly;
t(0.975, 4) = 2.776445 (any t table), half-width = 2.776445 · sqrt(8/3) = 4.533916.
"""

from __future__ import annotations

import math

import pytest

from hyperprune.search import seed_noise

T_975_DF4 = 2.7764451051977987
HALF = T_975_DF4 * math.sqrt(8 / 3)


def test_welch_interval_is_the_hand_computed_one():
    c = seed_noise.welch([100.0, 102.0, 104.0], [103.0, 105.0, 107.0])
    assert c.difference == 3.0
    assert c.df == pytest.approx(4.0, abs=1e-12)
    assert HALF == pytest.approx(4.533916, abs=1e-6)
    assert (c.lo, c.hi) == (pytest.approx(3.0 - HALF, abs=1e-9), pytest.approx(3.0 + HALF, abs=1e-9))
    assert c.within_noise                                      # -1.53 <= 0 <= 7.53
    assert c.to_dict()["method"] == "welch-t" and c.to_dict()["level"] == 0.95


def test_unequal_variances_use_welch_satterthwaite_df():
    # variances 8 and 18 over 2 seeds each: se² = 4 + 9 = 13, df = 169 / (16 + 81) = 1.7423
    c = seed_noise.welch([100.0, 104.0], [103.0, 109.0])
    assert c.difference == 4.0
    assert c.df == pytest.approx(169 / 97, abs=1e-12)
    assert c.hi - c.difference == pytest.approx(c.difference - c.lo)


def test_a_margin_beyond_the_interval_is_not_a_tie():
    c = seed_noise.welch([100.0, 102.0, 104.0], [110.0, 112.0, 114.0])
    assert (c.lo, c.hi) == (pytest.approx(10.0 - HALF), pytest.approx(10.0 + HALF))
    assert not c.within_noise
    assert seed_noise.margin_line(3, c.to_dict()) == (
        f"winner beats the runner-up beyond seed noise: Δ = 10.00 [{10 - HALF:.2f}, {10 + HALF:.2f}] ppl")


def test_the_tie_line_and_the_one_seed_line():
    c = seed_noise.welch([100.0, 102.0, 104.0], [103.0, 105.0, 107.0]).to_dict()
    assert seed_noise.margin_line(3, c) == "winner and runner-up are within seed noise: Δ = 3.00 [-1.53, 7.53] ppl"
    assert "noise was not measured" in seed_noise.margin_line(1, None)
    assert seed_noise.margin_line(2, None) is None             # one finalist: no runner-up


def test_no_spread_gives_the_difference_itself():
    c = seed_noise.welch([100.0, 100.0], [101.0, 101.0])
    assert (c.difference, c.lo, c.hi, c.df) == (1.0, 1.0, 1.0, None)
    with pytest.raises(ValueError):
        seed_noise.welch([100.0], [101.0, 102.0])


def test_the_mean_decides_not_the_first_seed():
    # candidate 3 is best under the search's seed (90 < 95) but worst on average (105 > 100)
    valid = {3: [90.0, 120.0], 5: [95.0, 105.0], 7: [101.0, 99.0]}
    assert seed_noise.pick_by_mean(valid) == 5                  # 100 = 100: the lower id wins the tie
    assert seed_noise.runner_up(valid) == 7
    assert seed_noise.pick_by_mean({}) is None


def test_summary_records_mean_and_sample_sd():
    s = seed_noise.summary([100.0, 102.0, 104.0], [90.0, 94.0, 92.0])
    assert (s["valid_mean"], s["valid_sd"], s["test_mean"], s["test_sd"]) == (102.0, 2.0, 92.0, 2.0)
    assert s["valid_ppl"] == [100.0, 102.0, 104.0]
    assert seed_noise.sd([5.0]) is None
