"""Seed noise of the final comparison (`search.final_seeds: N`, issue 19 part 2): pure functions of
per-seed final perplexities, no I/O.

With N > 1 every model whose final training decides the winner (and the dense model) is trained
under seeds `seed, seed+1, ..., seed+N-1`. The rule:

- the winner is the model with the lowest mean final validation perplexity over its seeds (ties go
  to the lower candidate id), whatever any one seed says;
- a comparison of the winner with another model is the difference of their means,
  Δ = mean(other) - mean(winner) (positive: the winner is lower), with a 95% **Welch t interval**:
  the two models' seeds are independent samples of unequal variance, se = sqrt(s_w²/n_w + s_o²/n_o),
  df by Welch-Satterthwaite, Δ ± t(0.975, df) · se. With 2-3 seeds a bootstrap has too few distinct
  resamples to give an interval at all; Welch's is exact for normal noise and honest (wide) when the
  df is small;
- the winner and the runner-up are "within seed noise" when that interval contains 0. The winner is
  still the lower mean; the words say the margin is not resolved.

With N = 1 no interval exists: the words say the margin's noise was not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Student's t quantile from scipy.special, not scipy.stats: the same function (scipy.stats.t.ppf
# calls it), and every search process imports this module, where scipy.stats costs 0.5 s more.
from scipy.special import stdtrit

LEVEL = 0.95
METHOD = "welch-t"


@dataclass(frozen=True)
class Comparison:
    """Δ = mean(other) - mean(winner), and its `LEVEL` Welch interval [lo, hi]."""
    difference: float
    lo: float
    hi: float
    df: float | None

    @property
    def within_noise(self) -> bool:
        return bool(self.lo <= 0.0 <= self.hi)

    def to_dict(self) -> dict:
        return {"difference": self.difference, "ci": [self.lo, self.hi], "df": self.df,
                "level": LEVEL, "method": METHOD, "within_noise": self.within_noise}


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def sd(values: list[float]) -> float | None:
    """Sample standard deviation (n - 1); None for one value."""
    n = len(values)
    if n < 2:
        return None
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def summary(valid: list[float], test: list[float]) -> dict:
    """What results.json records per model: the per-seed numbers (seed order), means and sds."""
    return {"valid_ppl": list(valid), "test_ppl": list(test), "valid_mean": mean(valid), "valid_sd": sd(valid),
            "test_mean": mean(test), "test_sd": sd(test)}


def welch(winner: list[float], other: list[float], level: float = LEVEL) -> Comparison:
    """Welch's t interval for mean(other) - mean(winner). Needs two values on each side; with no
    spread on either side the interval is the difference itself (df None)."""
    if len(winner) < 2 or len(other) < 2:
        raise ValueError(f"Welch's interval needs at least 2 seeds a side, got {len(winner)} and {len(other)}")
    vw, vo = sd(winner) ** 2 / len(winner), sd(other) ** 2 / len(other)
    diff = mean(other) - mean(winner)
    se2 = vw + vo
    if se2 == 0.0:
        return Comparison(diff, diff, diff, None)
    df = se2 ** 2 / (vw ** 2 / (len(winner) - 1) + vo ** 2 / (len(other) - 1))    # Welch-Satterthwaite
    half = float(stdtrit(df, 0.5 + level / 2)) * math.sqrt(se2)     # a plain float: results.json
    return Comparison(diff, diff - half, diff + half, df)


def mean_interval(values: list[float], level: float = LEVEL) -> tuple[float, float] | None:
    """The t interval of one model's mean over its seeds (the report's strip plot); None for one seed."""
    if len(values) < 2:
        return None
    half = float(stdtrit(len(values) - 1, 0.5 + level / 2)) * sd(values) / math.sqrt(len(values))
    return mean(values) - half, mean(values) + half


def pick_by_mean(valid_by_model: dict[int, list[float]]) -> int | None:
    """The model with the lowest mean validation perplexity over its seeds; ties to the lower id."""
    ranked = sorted(valid_by_model, key=lambda c: (mean(valid_by_model[c]), c))
    return ranked[0] if ranked else None


def runner_up(valid_by_model: dict[int, list[float]]) -> int | None:
    ranked = sorted(valid_by_model, key=lambda c: (mean(valid_by_model[c]), c))
    return ranked[1] if len(ranked) > 1 else None


def margin_line(n_seeds: int, vs_runner_up: dict | None) -> str | None:
    """The console's and report's one line on the winner's margin over the runner-up (None: no
    runner-up). `vs_runner_up` is a `Comparison.to_dict()`."""
    if n_seeds < 2:
        return ("the margin between winner and runner-up was measured under one seed: its seed noise was not "
                "measured (search.final_seeds: 1)")
    if vs_runner_up is None:
        return None
    d, (lo, hi) = vs_runner_up["difference"], vs_runner_up["ci"]
    if vs_runner_up["within_noise"]:
        return f"winner and runner-up are within seed noise: Δ = {d:.2f} [{lo:.2f}, {hi:.2f}] ppl"
    return f"winner beats the runner-up beyond seed noise: Δ = {d:.2f} [{lo:.2f}, {hi:.2f}] ppl"


def margin_of(seeds: dict | None, winner: dict | None, candidates: list[dict]) -> str | None:
    """`margin_line` for a results.json's "seeds" section (absent with one seed), winner and
    candidates: None before there is a winner, or with a single finished model (no runner-up)."""
    if winner is None:
        return None
    if seeds is not None:
        return seeds.get("margin_line")
    finished = [c for c in candidates if c.get("final_valid_ppl") is not None]
    return margin_line(1, None) if len(finished) > 1 else None
