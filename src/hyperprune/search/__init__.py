"""Hyperpruning search: a pool of sparse-training settings from an Optuna sampler, trained a few
epochs, ranked by the distance of their Lyapunov spectrum to the dense model's, cut in rounds, and
the finalists trained to the full budget. Also the loss-based and full-training baselines and ASHA.

    from hyperprune.search import load_search_config, run_search
    results = run_search(load_search_config("configs/demo.yaml"))   # a SearchResults, as load_results(run_dir)
"""

from hyperprune.search.config import LyapunovSettings, SearchConfig, SearchSettings, load_search_config
from hyperprune.search.runner import run_search, run_worker
from hyperprune.search.search_results import SearchResults, load_results
from hyperprune.search.space import SearchSpace, paper_space

__all__ = ["LyapunovSettings", "SearchConfig", "SearchResults", "SearchSettings", "SearchSpace", "load_results",
           "load_search_config", "paper_space", "run_search", "run_worker"]
