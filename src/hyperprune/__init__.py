"""hyperprune: find the best pruned variant of a recurrent network by its Lyapunov spectrum.

The Python API (docs/api.md shows each name with a runnable example):

    spectrum(model, probe)                 Lyapunov spectrum of a RecurrentLM, an nn.LSTM/GRU/RNN, or a model holding one
    distance(name, a, b)                   distance between two spectra ("l2", "l2-topk", "relative", "wasserstein")
    make_probe(valid_ids, ...)             the fixed token windows every spectrum is measured on
    dense_reference(dense, probe, ...)     the dense model's spectrum per epoch, cached to a file
    spectrum_distance(model, dense, ...)   a candidate's distance to the dense spectrum at the same epoch
    LSHPruner(n_trials, ...)               the paper's synchronous rounds as an Optuna pruner
    run_search(load_search_config(path))   a whole LSH search, as `hyperprune search` runs it: a SearchResults
    load_results(run_dir)                  a search's results.json, read back: the same SearchResults
    sparse_engine(module, sparsity, ...)   masks and their epoch-end update for any nn.Module, your optimiser
    load_model(path)                       a trained model (eval mode), its vocabulary and config
    export_model(path, out, format)        a trained model as safetensors, masked matrices as index/value pairs
    SparseEngine, SparseConfig, SearchConfig, SearchResults, UserError, LyapunovSpectrum, Probe, DenseSpectra

Names are imported on first use, so `import hyperprune` itself loads neither torch nor optuna. Type
checkers and IDEs read the same names from the `TYPE_CHECKING` imports below (the package ships
`py.typed`); a test keeps the two lists equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperprune.errors import UserError
from hyperprune.lazy_names import lazy_names

if TYPE_CHECKING:
    from hyperprune.lyapunov.dense_spectra import DenseSpectra, dense_reference, spectrum_distance
    from hyperprune.lyapunov.distances import distance
    from hyperprune.lyapunov.probe import Probe, make_probe
    from hyperprune.lyapunov.result import LyapunovSpectrum
    from hyperprune.lyapunov.torch_modules import module_spectrum as spectrum
    from hyperprune.search.config import SearchConfig, load_search_config
    from hyperprune.search.optuna_pruner import LSHPruner
    from hyperprune.search.runner import run_search
    from hyperprune.search.search_results import SearchResults, load_results
    from hyperprune.sparse.config import SparseConfig
    from hyperprune.sparse.engine import SparseEngine, sparse_engine
    from hyperprune.train.saved_model import export_model, load_model

__version__ = "0.1.0"

# public name -> (module, attribute), imported when first asked for. One name each: `spectrum` is
# `module_spectrum`, which keeps its longer name inside `hyperprune.lyapunov`, where `spectrum` is the
# QR engine's module and `model_spectrum` measures our own models.
_LAZY = {
    "spectrum": ("hyperprune.lyapunov.torch_modules", "module_spectrum"),
    "distance": ("hyperprune.lyapunov.distances", "distance"),
    "make_probe": ("hyperprune.lyapunov.probe", "make_probe"),
    "Probe": ("hyperprune.lyapunov.probe", "Probe"),
    "LyapunovSpectrum": ("hyperprune.lyapunov.result", "LyapunovSpectrum"),
    "dense_reference": ("hyperprune.lyapunov.dense_spectra", "dense_reference"),
    "spectrum_distance": ("hyperprune.lyapunov.dense_spectra", "spectrum_distance"),
    "DenseSpectra": ("hyperprune.lyapunov.dense_spectra", "DenseSpectra"),
    "LSHPruner": ("hyperprune.search.optuna_pruner", "LSHPruner"),
    "run_search": ("hyperprune.search.runner", "run_search"),
    "load_search_config": ("hyperprune.search.config", "load_search_config"),
    "SearchConfig": ("hyperprune.search.config", "SearchConfig"),
    "load_results": ("hyperprune.search.search_results", "load_results"),
    "SearchResults": ("hyperprune.search.search_results", "SearchResults"),
    "sparse_engine": ("hyperprune.sparse.engine", "sparse_engine"),
    "load_model": ("hyperprune.train.saved_model", "load_model"),
    "export_model": ("hyperprune.train.saved_model", "export_model"),
    "SparseEngine": ("hyperprune.sparse.engine", "SparseEngine"),
    "SparseConfig": ("hyperprune.sparse.config", "SparseConfig"),
}

__all__ = ["UserError", "__version__", *sorted(_LAZY)]


_getattr, __dir__ = lazy_names(__name__, _LAZY, globals())
# Hidden from type checkers: a module `__getattr__` would make every name, a misspelt one too, `Any`;
# they see the names themselves in the TYPE_CHECKING imports.
if not TYPE_CHECKING:
    __getattr__ = _getattr
