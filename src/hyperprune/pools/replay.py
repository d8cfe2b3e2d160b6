"""Search strategies replayed offline on a fully trained pool, with the search's own code.

Every candidate of the pool was trained to the budget T, so any strategy can be replayed on random
sub-pools: which candidates it would stop where, which one it picks, and what that cost.

    lsh      `hyperprune.search.rounds.advance`: round r ranks the alive candidates at
             e0 + r * ei, keeps `n_kept` (half+1), stops at 2 finalists, who train to T. The first
             round reads the `first` signal table, later rounds the `later` one (the search probes
             its first round with 2 windows and later rounds with 5).
    asha     `hyperprune.search.strategies.asha`: rungs `asha_rungs(e0, keep, T)`, a trial stops at a
             rung where `promotable` says no, trials arriving one after the other in the sub-pool's
             order (so Optuna's arrival promotion and our candidate-order promotion agree).
    full     every candidate to T.
    random   one candidate, drawn uniformly, to T.

The search picks among the candidates that reached T the one with the lowest final *validation*
perplexity (`SearchStrategy.pick_winner`); the pick is judged by its final *test* perplexity: regret
is the pick's test perplexity minus the sub-pool's best. Cost is the windows every candidate is
trained (and, for a spectrum signal, the dense model's windows up to the last round) and their
recorded seconds, plus each spectrum measured.

Sub-pools are drawn uniformly without replacement, so those that leave out candidate c are uniform
sub-pools of the pool without c: leave-one-out reads them, and trains nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperprune.search import rounds
from hyperprune.search.strategies.asha import asha_rungs, promotable, reduction_factor
from hyperprune.search.strategies.base import SearchStrategy

KEEP = rounds.HALF_PLUS_ONE
FINALISTS = 2


@dataclass(frozen=True)
class Strategy:
    name: str
    kind: str                          # "lsh" | "asha" | "full" | "random"
    first: str | None = None           # signal table of the first round (lsh) or of every rung (asha)
    later: str | None = None           # signal table of later rounds (lsh); defaults to `first`
    e0: int | None = None
    ei: int = 1
    spectrum: str | None = None        # the variant measured for each score: its seconds count too


@dataclass
class Pick:
    winner: int | None                 # row within the sub-pool
    reached: np.ndarray                # windows each candidate is trained
    scored: list[tuple[int, int]]      # (candidate, window) pairs the signal was measured at
    dense_windows: int = 0             # windows the dense reference is trained (spectrum signals)


def pick(final_valid: np.ndarray, reached_budget) -> int | None:
    return SearchStrategy.pick_winner({int(c): float(final_valid[c]) for c in reached_budget})


def replay_lsh(first: np.ndarray, later: np.ndarray, final_valid: np.ndarray, e0: int, ei: int,
               total: int) -> Pick:
    """LSH on (n, T) signal tables (column w - 1 is window w)."""
    n = len(first)
    progress = rounds.advance({c: float(first[c, e0 - 1]) for c in range(n)},
                              lambda c, e: float(later[c, e - 1]), e0=e0, ei=ei, final=total, keep=KEEP,
                              finalists=FINALISTS)
    reached = np.full(n, e0)
    scored = []
    for r in progress.rounds:
        reached[r.candidates] = np.maximum(reached[r.candidates], r.epoch)
        scored += [(c, r.epoch) for c in r.candidates]
    reached[progress.finalists] = total
    last = max((r.epoch for r in progress.rounds), default=e0)
    return Pick(pick(final_valid, progress.finalists), reached, scored, dense_windows=last)


def replay_asha(scores: np.ndarray, final_valid: np.ndarray, e0: int, total: int) -> Pick:
    """ASHA on an (n, T) signal table, trials arriving in row order."""

    eta, rungs = reduction_factor(KEEP), asha_rungs(e0, KEEP, total)
    n = len(scores)
    reached = np.zeros(n, dtype=int)
    scored, completed = [], []
    for c in range(n):
        for epoch in rungs:
            reached[c] = epoch
            scored.append((c, epoch))
            if epoch == total:
                completed.append(c)
                break
            # the earlier trials that reported at this rung (all of them reached it before c arrived)
            others = [float(scores[o, epoch - 1]) for o in range(c) if reached[o] >= epoch]
            if not promotable(float(scores[c, epoch - 1]), others, eta):
                break
    return Pick(pick(final_valid, completed), reached, scored, dense_windows=max(rungs[:-1], default=0))


def subpools(n: int, size: int, count: int, seed: int = 0) -> np.ndarray:
    """(count, size) candidate rows, each sub-pool drawn without replacement."""
    rng = np.random.default_rng(seed)
    return np.array([rng.choice(n, size=size, replace=False) for _ in range(count)])


@dataclass
class Costs:
    """What training and measuring cost, per candidate and window (from the records)."""
    cumulative: np.ndarray             # (n, T + 1): seconds to train candidate c to window w
    dense_cumulative: np.ndarray | None  # (T + 1,)
    spectrum: dict[str, np.ndarray]    # variant -> (n, T): seconds of a measurement at window w
    dense_spectrum: dict[str, np.ndarray]  # variant -> (T,)


def replay(strategies: list[Strategy], tables: dict[str, np.ndarray], final_valid: np.ndarray,
           final_test: np.ndarray, costs: Costs, members: np.ndarray, seed: int = 0) -> dict[str, dict]:
    """Each strategy on each sub-pool (rows of `members`): per sub-pool arrays of regret (test ppl),
    windows and seconds."""
    total = costs.cumulative.shape[1] - 1
    rng = np.random.default_rng(seed)
    out = {s.name: {"regret": [], "windows": [], "seconds": [], "pick": []} for s in strategies}
    for sub in members:
        valid, test = final_valid[sub], final_test[sub]
        for s in strategies:
            if s.kind == "full":
                result = Pick(pick(valid, range(len(sub))), np.full(len(sub), total), [])
            elif s.kind == "random":
                choice = int(rng.integers(len(sub)))
                reached = np.zeros(len(sub), dtype=int)
                reached[choice] = total
                result = Pick(choice, reached, [])
            elif s.kind == "asha":
                result = replay_asha(tables[s.first][sub], valid, s.e0, total)
            else:
                result = replay_lsh(tables[s.first][sub], tables[s.later or s.first][sub], valid, s.e0, s.ei, total)
            seconds = costs.cumulative[sub, result.reached].sum()
            windows = int(result.reached.sum())
            if s.spectrum is not None:
                seconds += sum(costs.spectrum[s.spectrum][sub[c], e - 1] for c, e in result.scored)
                dense_at = sorted({e for _, e in result.scored})
                seconds += costs.dense_cumulative[result.dense_windows]
                seconds += costs.dense_spectrum[s.spectrum][np.array(dense_at) - 1].sum()
                windows += result.dense_windows
            row = out[s.name]
            row["pick"].append(-1 if result.winner is None else int(sub[result.winner]))
            row["regret"].append(np.nan if result.winner is None else float(test[result.winner] - test.min()))
            row["windows"].append(windows)
            row["seconds"].append(float(seconds))
    return {name: {key: np.array(v) for key, v in row.items()} for name, row in out.items()}


def mean_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """The mean over sub-pools with a bootstrap 95% CI, and the 2.5-97.5 percentile range."""
    values = values[np.isfinite(values)]
    means = values[np.random.default_rng(seed).integers(0, len(values), size=(n_boot, len(values)))].mean(1)
    return {"mean": float(values.mean()), "ci95": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))],
            "range95": [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]}


def summarise(result: dict[str, np.ndarray], noise_sd: float | None) -> dict:
    regret = result["regret"]
    done = np.isfinite(regret)
    out = {"subpools": int(done.sum()), "regret": mean_ci(regret), "windows": mean_ci(result["windows"][done]),
           "seconds": mean_ci(result["seconds"][done]), "picked_best": float(np.mean(regret[done] == 0))}
    out["within_noise"] = None if noise_sd is None else float(np.mean(regret[done] <= noise_sd))
    return out


def leave_one_out(result: dict[str, np.ndarray], members: np.ndarray, names: list[str]) -> dict | None:
    """The largest change in "picked the best" when one candidate is left out of the pool: the
    sub-pools without it against all sub-pools (None when every sub-pool holds every candidate)."""
    best = result["regret"] == 0
    overall = float(best.mean())
    changes = []
    for c, name in enumerate(names):
        without = ~(members == c).any(axis=1)
        if without.any():
            changes.append((float(best[without].mean()) - overall, name, int(without.sum())))
    if not changes:
        return None
    change, name, count = max(changes, key=lambda t: (abs(t[0]), t[1]))
    return {"picked_best": overall, "candidate": name, "without": overall + change, "change": change,
            "subpools_without": count}
