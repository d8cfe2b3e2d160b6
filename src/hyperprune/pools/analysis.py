"""The pool analysis of issue 18, part 3, fixed before the long pool's data: one function for every pool.

For each predictor, at every recorded window w < T: Spearman rho and Kendall tau with bootstrap 95%
CIs against the final test perplexity (primary) and the final validation perplexity. Predictors:

    ls_reference       L2 distance of the `reference` spectrum to the dense model's, as the search's
                       first round computes it: the 2-window probe, each side averaged over its windows
    ls_reference_p5    the same with the 5-window probe, what the search's later rounds score (long pool)
    ls_standard_k64    the `standard` spectrum, k = 64, 2-window probe
    valid_ppl          validation perplexity at w, before the mask update
    death_rate         the candidate's death rate (a prior)

The paper's claim is tested by the paired bootstrap of rho(ls_reference) - rho(valid_ppl) against
final test perplexity at every window, read at w* (the first recorded window where the dense
model's validation perplexity is at most 2.5x its final: the state of the paper's epoch 3, whose
candidates were ~2.3x their final) and at e0 = 3. Everything again without the SET-signed
candidates. The strategies are replayed (`replay.py`) on `n_subpools` sub-pools of 16: LSH on LS
and on loss from each e0, ASHA on loss, full, random; "within noise" is the share of picks whose
regret is at most the pooled seed sd of the seeded candidates' final test perplexity.

Where this differs from a search: the spectra are those of window w before its update (the
search's `lyapunov.measure: before-update`). The search's default, `last-improving`, measures the
last window <= w whose validation improved; the two differ only where validation did not improve
at w, and `analyse` counts those (candidate, window) pairs (`not_improving`). The long pool records
one total of seconds for its four spectra at a window, so an LS score is charged all four (an
upper bound; a spectrum costs ~1 s against ~30 s of training a window).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hyperprune.errors import UserError
from hyperprune.pools import replay as replays
from hyperprune.pools import signals
from hyperprune.pools.ranking import N_BOOT, correlation_with_ci, paired_difference
from hyperprune.pools.records import Pool, Run

SUBPOOL = 16
DENSE_RATIO = 2.5                 # w*: dense valid ppl at most this times its final
TARGETS = ("test", "valid")       # test first: the primary truth
ROUNDS_EVERY = {"ptb": 1, "ptb-long": 3}     # ei: windows a round (ptb's 6-epoch budget allows 1)


def predictors(pool: Pool) -> dict[str, tuple[Callable, Callable]]:
    """name -> (signal of the first round, signal of later rounds), as the search would score them."""
    if pool.name == "paper":
        return {"ls_reference": (signals.released("ls_reference"),) * 2,
                "valid_ppl": (signals.valid_ppl,) * 2, "death_rate": (signals.death_rate,) * 2}
    later = "probe5" if "probe5" in pool.probes else "probe2"      # the first pool recorded 2 windows only
    out = {}
    if pool.dense is not None:
        out["ls_reference"] = (signals.ls_distance("reference", "probe2"), signals.ls_distance("reference", later))
        if later != "probe2":
            out["ls_reference_p5"] = (signals.ls_distance("reference", later),) * 2
        out["ls_standard_k64"] = (signals.ls_distance("standard_k64", "probe2"),
                                  signals.ls_distance("standard_k64", later))
    out["valid_ppl"] = (signals.valid_ppl,) * 2
    out["death_rate"] = (signals.death_rate,) * 2
    return out


def signal_table(pool: Pool, signal: Callable, windows: list[int] | None = None) -> np.ndarray:
    """(candidates, T) values of `signal`, each from the records up to that window; NaN where unasked."""
    windows = windows if windows is not None else range(1, pool.total_windows + 1)
    table = np.full((len(pool.candidates), pool.total_windows), np.nan)
    dense = pool.dense
    for i, run in enumerate(pool.candidates):
        for w in windows:
            if run.at(w) is not None:
                table[i, w - 1] = signal(run.upto(w), dense.upto(w) if dense is not None else None)
    return table


def finals(pool: Pool, target: str) -> np.ndarray:
    return pool.final_test() if target == "test" else pool.final_valid()


def early_windows(pool: Pool) -> list[int]:
    return [w for w in pool.recorded if w < pool.total_windows]


def dense_ratio(pool: Pool) -> dict[int, float]:
    """Dense validation perplexity at each window over its final."""
    dense = pool.dense
    if dense is None or dense.final.valid_ppl is None:
        return {}
    return {w.window: w.valid_ppl / dense.final.valid_ppl for w in dense.windows}


def w_star(pool: Pool) -> int | None:
    """The first recorded window where the dense model is within DENSE_RATIO of its final."""
    ratio = dense_ratio(pool)
    return next((w for w in early_windows(pool) if ratio.get(w, math.inf) <= DENSE_RATIO), None)


def not_improving(pool: Pool) -> dict:
    """Recorded early windows where a candidate's validation did not improve on its best so far:
    there `last-improving` would score an earlier state than the one analysed here."""
    pairs = []
    for run in pool.candidates:
        best = math.inf
        for w in run.windows:
            if w.window in early_windows(pool) and w.valid_ppl >= best:
                pairs.append(f"{run.name}@{w.window}")
            best = min(best, w.valid_ppl)
    return {"count": len(pairs), "of": len(pool.candidates) * len(early_windows(pool)), "pairs": pairs}


def seed_noise(pool: Pool) -> dict:
    """Final perplexities under several seeds, and the candidates' pooled seed sd (pooled variance,
    each candidate weighted by its degrees of freedom)."""
    out: dict = {"runs": {}, "pooled_sd": {}, "df": 0}
    for key, by_seed in pool.seed_groups().items():
        entry = {}
        for target in TARGETS:
            v = np.array([getattr(f, f"{target}_ppl") for f in by_seed.values()], dtype=float)
            entry[target] = {"by_seed": {str(s): float(x) for s, x in zip(by_seed, v)}, "sd": float(v.std(ddof=1)),
                             "range": float(v.max() - v.min())}
        entry["df"] = len(by_seed) - 1
        out["runs"][key] = entry
    seeded = [e for key, e in out["runs"].items() if key != "dense"]
    if seeded:
        df = sum(e["df"] for e in seeded)
        out["df"] = df
        for target in TARGETS:
            out["pooled_sd"][target] = math.sqrt(sum(e["df"] * e[target]["sd"] ** 2 for e in seeded) / df)
        out["candidates"] = sorted(k for k in out["runs"] if k != "dense")
    return out


def correlations(pool: Pool, tables: dict[str, np.ndarray], n_boot: int = N_BOOT) -> dict:
    """target -> predictor -> window -> correlation_with_ci."""
    out: dict = {}
    for target in TARGETS:
        y = finals(pool, target)
        if np.isnan(y).all():
            continue
        out[target] = {name: {str(w): correlation_with_ci(t[:, w - 1], y, n_boot, seed=w)
                              for w in early_windows(pool) if not np.isnan(t[:, w - 1]).all()}
                       for name, t in tables.items()}
    return out


def paired(pool: Pool, tables: dict[str, np.ndarray], signal: str, against: str = "valid_ppl",
           n_boot: int = N_BOOT) -> dict:
    """window -> rho(signal) - rho(against) against final test ppl, with its paired bootstrap CI."""
    y = finals(pool, "test")
    return {str(w): paired_difference(tables[signal][:, w - 1], tables[against][:, w - 1], y, n_boot, seed=w)
            for w in early_windows(pool) if not np.isnan(tables[signal][:, w - 1]).all()}


def costs(pool: Pool) -> replays.Costs:
    T = pool.total_windows

    def cumulative(run: Run) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum([run.at(w).search_seconds for w in range(1, T + 1)])])

    def spectrum(run: Run, variant: str) -> np.ndarray:
        # a score at an unrecorded window measures the state there: charge the latest recorded cost
        out, last = np.zeros(T), 0.0
        for w in range(1, T + 1):
            window = run.at(w)
            if window.spectrum_seconds:
                last = window.spectrum_cost(variant)
            out[w - 1] = last
        return out

    dense = pool.dense
    variants = ("reference", "standard_k64") if dense is not None else ()
    return replays.Costs(
        cumulative=np.array([cumulative(r) for r in pool.candidates]),
        dense_cumulative=cumulative(dense) if dense is not None else None,
        spectrum={v: np.array([spectrum(r, v) for r in pool.candidates]) for v in variants},
        dense_spectrum={v: spectrum(dense, v) for v in variants})


SPECTRUM_OF = {"ls_reference": "reference", "ls_standard_k64": "standard_k64"}


def strategies(pool: Pool, e0s: list[int], names: list[str]) -> list[replays.Strategy]:
    ei = ROUNDS_EVERY.get(pool.name, 1)
    out = [replays.Strategy("full", "full"), replays.Strategy("random", "random")]
    for e0 in e0s:
        out.append(replays.Strategy(f"asha_valid_ppl_e{e0}", "asha", first="valid_ppl", e0=e0))
    for e0 in e0s:
        for name in names:
            out.append(replays.Strategy(f"lsh_{name}_e{e0}", "lsh", first=f"{name}@first", later=f"{name}@later",
                                        e0=e0, ei=ei, spectrum=SPECTRUM_OF.get(name)))
    return out


def replay_tables(pool: Pool, names: list[str], given: dict[str, tuple[Callable, Callable]]) -> dict[str, np.ndarray]:
    """Signal tables at every window (a round can fall on any window), first- and later-round."""
    out = {}
    for name in names:
        first, later = given[name]
        out[f"{name}@first"] = signal_table(pool, first)
        out[f"{name}@later"] = out[f"{name}@first"] if later is first else signal_table(pool, later)
    out["valid_ppl"] = out["valid_ppl@first"] if "valid_ppl" in names else signal_table(pool, signals.valid_ppl)
    return out


def run_replays(pool: Pool, names: list[str], given: dict, e0s: list[int], n_subpools: int, seed: int = 0,
                noise_sd: float | None = None) -> dict:
    """Summary and leave-one-out of each strategy over the same `n_subpools` sub-pools of 16."""
    plan = strategies(pool, [e for e in e0s if e is not None and e < pool.total_windows], names)
    members = replays.subpools(len(pool.candidates), min(SUBPOOL, len(pool.candidates)), n_subpools, seed)
    per_subpool = replays.replay(plan, replay_tables(pool, names, given), pool.final_valid(), pool.final_test(),
                                 costs(pool), members, seed)
    labels = [r.name.removesuffix("-s0") for r in pool.candidates]
    return {"subpools": n_subpools, "subpool_size": members.shape[1],
            "strategies": {name: {**replays.summarise(r, noise_sd),
                                  "leave_one_out": replays.leave_one_out(r, members, labels)}
                           for name, r in per_subpool.items()},
            "per_subpool": per_subpool, "members": members, "labels": labels}


def analyse(pool: Pool, n_subpools: int = 1000, n_boot: int = N_BOOT, e0s: list[int] | None = None) -> dict:
    """Everything issue 18 part 3 asks of one pool; `e0s` defaults to {3, w*}."""
    given = predictors(pool)
    tables = {name: signal_table(pool, first, early_windows(pool)) for name, (first, _) in given.items()}
    noise = seed_noise(pool)
    star = w_star(pool)
    result = {"pool": pool.name, "runs_read": len(pool.runs), "candidates": [r.name for r in pool.candidates],
              "duplicates": dict(pool.duplicates), "failed": pool.failed, "total_windows": pool.total_windows,
              "recorded": early_windows(pool), "w_star": star, "dense_ratio": dense_ratio(pool),
              "dense": _final(pool.dense), "finals": {r.name: _final(r) for r in pool.candidates},
              "seed_noise": noise, "not_improving": not_improving(pool), "correlations": {}, "paired": {},
              "replay": None}
    if len(pool.candidates) < 3:
        return result
    result["correlations"] = correlations(pool, tables, n_boot)
    if "ls_reference" in tables:
        result["paired"] = {"ls_reference": paired(pool, tables, "ls_reference", n_boot=n_boot)}
        if "ls_reference_p5" in tables:
            result["paired"]["ls_reference_p5"] = paired(pool, tables, "ls_reference_p5", n_boot=n_boot)
    # a replay trains candidates window by window: it needs every window's record (the paper's pool has epoch 3)
    replayable = all(r.at(w) is not None for r in pool.candidates for w in range(1, pool.total_windows + 1))
    if replayable and n_subpools:
        names = [n for n in ("ls_reference", "ls_standard_k64", "valid_ppl") if n in given]
        result["replay"] = run_replays(pool, names, given, sorted({*(e0s or [3, star])} - {None}), n_subpools,
                                       noise_sd=noise["pooled_sd"].get("test"))
    return result


def _final(run: Run | None) -> dict | None:
    if run is None or run.final is None:
        return None
    return {"valid_ppl": run.final.valid_ppl, "test_ppl": run.final.test_ppl, "window": run.final.window}


def score_signal(pool: Pool, signal: Callable, window: int = 3, n_boot: int = N_BOOT, n_subpools: int = 1000,
                 seed: int = 0) -> dict:
    """How well your early signal ranks `pool`, with the analysis's own code.

    `signal(run, dense) -> float` is given a candidate's and the dense model's records up to a window
    (lower ranks first). Returns, at `window`: rho and tau with bootstrap CIs against final test
    perplexity, the paired difference rho(signal) - rho(valid_ppl), and LSH's rounds from
    e0 = `window` on the signal (every round) against the same rounds on validation perplexity:
    regret in final test ppl over `n_subpools` sub-pools of 16."""
    if window not in early_windows(pool):
        raise UserError(f"window {window} is not an early recorded window of pool {pool.name!r}; "
                        f"allowed: {early_windows(pool)}")
    y = pool.final_test()
    mine = signal_table(pool, signal)
    loss = signal_table(pool, signals.valid_ppl)
    out = {"window": window, "n": len(y),
           "correlation": correlation_with_ci(mine[:, window - 1], y, n_boot, seed=window),
           "valid_ppl": correlation_with_ci(loss[:, window - 1], y, n_boot, seed=window),
           "paired_difference": paired_difference(mine[:, window - 1], loss[:, window - 1], y, n_boot, seed=window),
           "replay": None}
    if pool.total_windows > window and n_subpools:
        given = {"signal": (signal, signal), "valid_ppl": (signals.valid_ppl, signals.valid_ppl)}
        done = run_replays(pool, ["signal", "valid_ppl"], given, [window], n_subpools, seed,
                           noise_sd=seed_noise(pool)["pooled_sd"].get("test"))
        out["replay"] = {name: done["strategies"][f"lsh_{name}_e{window}"] for name in ("signal", "valid_ppl")}
    return out
