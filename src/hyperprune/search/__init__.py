"""Hyperpruning search: a pool of sparse-training settings from an Optuna sampler, trained a few
epochs, ranked by the distance of their Lyapunov spectrum to the dense model's, cut in rounds, and
the finalists trained to the full budget. Also the loss-based and full-training baselines and ASHA.

    from hyperprune.search import load_search_config, run_search
    results = run_search(load_search_config("configs/demo.yaml"))   # a SearchResults, as load_results(run_dir)

Names are imported on first use (as `hyperprune` does): importing one module of this package, say
`search.rounds` from `pools`, loads that module and what it imports, not the whole search loop; so
the modules here import each other at their top, with no cycle through this file.
"""

from __future__ import annotations

from hyperprune.lazy_names import lazy_names

# public name -> (module, attribute), imported when first asked for
_LAZY = {
    "LyapunovSettings": ("hyperprune.search.config", "LyapunovSettings"),
    "SearchConfig": ("hyperprune.search.config", "SearchConfig"),
    "SearchSettings": ("hyperprune.search.config", "SearchSettings"),
    "SearchResults": ("hyperprune.search.search_results", "SearchResults"),
    "load_results": ("hyperprune.search.search_results", "load_results"),
    "load_search_config": ("hyperprune.search.config", "load_search_config"),
    "run_search": ("hyperprune.search.runner", "run_search"),
    "run_worker": ("hyperprune.search.runner", "run_worker"),
    "SearchSpace": ("hyperprune.search.space", "SearchSpace"),
    "paper_space": ("hyperprune.search.space", "paper_space"),
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
