"""How well early signals rank a pool: rank correlations with bootstrap CIs, and the paired bootstrap
of the difference between two signals' correlations (the test of the LSH paper's claim).

The point estimates are `hyperprune.report.rank_correlation` (scipy's Spearman rho and Kendall
tau-b). The CIs are percentile bootstraps over candidates: `n_boot` resamples with replacement; a
resample where one side is constant has no rank correlation and is dropped. The paired bootstrap
draws the same resamples for both signals, so the CI of rho(a) - rho(b) accounts for their
correlation with each other (both rank the same candidates against the same finals).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from hyperprune.report.rank_correlation import rank_correlation

N_BOOT = 1000


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair of (B, n) arrays: Pearson of average ranks (scipy's definition)."""

    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))


def kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each row pair: (concordant - discordant) / sqrt(untied-x pairs * untied-y pairs)."""
    sx = np.sign(x[:, :, None] - x[:, None, :])              # (B, n, n)
    sy = np.sign(y[:, :, None] - y[:, None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum((1, 2)) / np.sqrt(np.abs(sx).sum((1, 2)) * np.abs(sy).sum((1, 2)))


STATISTICS = {"spearman": spearman_rows, "kendall": kendall_rows}


def _percentiles(values: np.ndarray) -> list[float] | None:
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _finite_pairs(*columns) -> tuple[np.ndarray, ...]:
    """The candidates every column has a number for; inf is a number (a broken spectrum ranks last)."""
    arrays = [np.asarray(c, dtype=float) for c in columns]
    keep = np.logical_and.reduce([~np.isnan(a) for a in arrays])
    return tuple(a[keep] for a in arrays)


def correlation_with_ci(x, y, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Spearman rho and Kendall tau of x against y, each with its bootstrap 95% CI."""
    # Ranks in place of values: the same statistics, and an inf (ranked last) stays a number
    x, y = (_ranked(v) for v in _finite_pairs(x, y))
    point = rank_correlation(x.tolist(), y.tolist())
    out = {"n": point.n, "spearman": point.spearman, "kendall": point.kendall, "note": point.note,
           "spearman_ci": None, "kendall_ci": None}
    if point.spearman is None:
        return out
    idx = _resamples(len(x), n_boot, seed)
    for name, rows in STATISTICS.items():
        out[f"{name}_ci"] = _percentiles(rows(x[idx], y[idx]))
    return out


def paired_difference(a, b, y, n_boot: int = N_BOOT, seed: int = 0, statistic: str = "spearman") -> dict:
    """rho(a, y) - rho(b, y) on the candidates both signals score, with the paired bootstrap 95% CI
    (and the share of resamples where the difference is above 0)."""
    a, b, y = (_ranked(v) for v in _finite_pairs(a, b, y))
    rows = STATISTICS[statistic]
    if len(y) < 3:
        return {"n": len(y), "difference": None, "ci": None, "share_above_0": None}
    whole = rows(a[None], y[None])[0] - rows(b[None], y[None])[0]
    idx = _resamples(len(y), n_boot, seed)
    diffs = rows(a[idx], y[idx]) - rows(b[idx], y[idx])
    finite = diffs[np.isfinite(diffs)]
    return {"n": len(y), "difference": float(whole) if np.isfinite(whole) else None, "ci": _percentiles(diffs),
            "share_above_0": float((finite > 0).mean()) if len(finite) else None}


def _ranked(x: np.ndarray) -> np.ndarray:

    return rankdata(x).astype(float) if len(x) else x
