"""How well an early signal ranks candidates by their final perplexity (the LSH paper's Fig. 1-B/C).

Spearman's rho and Kendall's tau (scipy.stats), over the candidates that have both numbers. With
fewer than three pairs, or a constant side, a rank correlation means nothing: the result then
carries a note saying why and no numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scipy import stats

from hyperprune.strict_json import finite_or_null

MIN_PAIRS = 3


@dataclass
class RankCorrelation:
    n: int
    spearman: float | None = None
    spearman_p: float | None = None
    kendall: float | None = None
    kendall_p: float | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.spearman is None:
            return self.note or "no correlation"
        return f"Spearman ρ = {self.spearman:.3f}, Kendall τ = {self.kendall:.3f} (n = {self.n})"


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> RankCorrelation:
    """Spearman and Kendall rank correlation of paired, finite x and y."""

    if len(x) != len(y):
        raise ValueError(f"x and y must pair up, got {len(x)} and {len(y)} values")
    n = len(x)
    if n < MIN_PAIRS:
        return RankCorrelation(n=n, note=f"only {n} candidate(s) with both values; "
                                         f"a rank correlation needs at least {MIN_PAIRS}")
    if len(set(x)) == 1 or len(set(y)) == 1:
        return RankCorrelation(n=n, note="one side is constant over the candidates; ranks carry no information")
    rho = stats.spearmanr(x, y)
    tau = stats.kendalltau(x, y)
    return RankCorrelation(n=n, spearman=finite_or_null(float(rho.statistic)),
                           spearman_p=finite_or_null(float(rho.pvalue)),
                           kendall=finite_or_null(float(tau.statistic)), kendall_p=finite_or_null(float(tau.pvalue)))
