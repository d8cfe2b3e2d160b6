"""Fully trained pools of pruned recurrent candidates, as a benchmark for early signals (docs/pools.md).

    pool = load("ptb")                       # or "ptb-long", "paper"; or load("ptb", folder)
    pool.candidates[0].windows[2].valid_ppl  # a run's records: settings, per-window perplexities,
                                             # spectra, seconds; its final
    score_signal(pool, my_signal, window=3)  # rho with CI, the paired difference against loss, and
                                             # LSH's regret on sub-pools, by the analysis's own code
    analyse(pool)                            # everything BENCHMARKS.md reports of a pool

A signal is `signal(run, dense) -> float`, given records up to the window only (`signals.py`).
"""

from hyperprune.pools.analysis import analyse, score_signal, signal_table, w_star
from hyperprune.pools.records import Final, Pool, Run, Window, load, read_records
from hyperprune.pools.signals import death_rate, ls_distance, valid_ppl

__all__ = ["Final", "Pool", "Run", "Window", "analyse", "death_rate", "load", "ls_distance", "read_records",
           "score_signal", "signal_table", "valid_ppl", "w_star"]
