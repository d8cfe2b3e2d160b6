"""Knobs of a hyperpruning search: the training run every candidate shares, plus `search:` and `lyapunov:`.

A search config is a run config (data, model, train, sparse, seed, device, run_dir) with two more
sections. `search.space` maps dotted run-config paths to Optuna distributions (see `space.py`);
each candidate is the run config with one sample of the space applied on top.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from hyperprune import config as configuration
from hyperprune.config import check_choice, check_range, to_dict
from hyperprune.errors import UserError
from hyperprune.lyapunov import DISTANCES
from hyperprune.search.proposals import SAMPLERS
from hyperprune.search.rounds import check_keep
from hyperprune.search.space import SearchSpace
from hyperprune.search.strategies import strategy_for, strategy_names
from hyperprune.search.strategies.asha import PROMOTIONS
from hyperprune.train.config import RunConfig

METRICS = ("ls", "loss")
FINAL_STATES = ("best-valid", "last")      # measurement.final_state


@dataclass
class SearchSettings:
    strategy: str = "lsh"              # lsh (rounds on the spectrum distance) | full | asha: strategies/
    metric: str = "ls"                 # ls: Lyapunov-spectrum distance to the dense model | loss: valid ppl
    sampler: str = "tpe"               # tpe | random | grid | cmaes | gp
    # The defaults of the pool size and the round epochs are the released code's (hyperpruning.py:12-15:
    # 40 evaluations, e0 = 3, +3 a round; docs/paper.md). Small configs set their own.
    n_candidates: int = 40             # proposals drawn from the sampler (duplicates are collapsed)
    batch: int = 1                     # proposals drawn together before the sampler sees their scores
    first_epoch: int = 3               # e0: every candidate is trained this far, then scored
    epochs_per_round: int = 3          # ei: survivors train this many more epochs per round
    keep: float | str = "half+1"       # per round: half+1 (the paper's floor(n/2)+1) | a fraction in (0, 1)
    finalists: int = 2                 # F: rounds stop at this many; they train to final_epochs
    final_epochs: int | None = None    # the full budget; default train.epochs
    storage: str | None = None         # Optuna storage URL; default sqlite:///RUN_DIR/study.db
    study_name: str | None = None      # default: the run directory's name
    checkpoint_dir: str | None = None  # candidates' training; default RUN_DIR/candidates (shared by workers)
    dense_dir: str | None = None       # dense references by content hash; default RUN_DIR/dense
    # The dense reference's seed. None (the default): the search's, so each candidate starts as the
    # dense model's initial weights times its mask; a number: an independent dense run, as the
    # released code's (LEs/LSTM_PTB_full, trial 161). docs/paper.md, "Dense model and candidates".
    dense_seed: int | None = None
    # asha only (the argument `promotion` of strategies/asha.py's ASHA): which trials a trial competes with at a rung. arrival (Optuna's, the default): those
    # that reported there before it, so with several workers promotions depend on timing;
    # candidate-order: the candidates with a lower id, waited for, so the promotions are one process's.
    asha_promotion: str = "arrival"
    # Which saved state gives a finished model's numbers (valid and test ppl, parameter counts, the
    # exported winner): best-valid (the paper's: the epoch with the best validation loss, ASGD
    # averages after the switch) | last (the last epoch's); measurement.final_state.
    final_state: str = "best-valid"
    # Seeds each model whose final training decides the winner (and the dense model) is trained
    # under: 1 (the default, the paper's) or N, adding seed+1 ... seed+N-1; the winner is then the
    # lowest mean final validation ppl (search/seed_noise.py).
    final_seeds: int = 1
    heartbeat_interval: int = 30       # seconds; a worker silent for 2x this loses its candidate
    threads: int | None = None         # PyTorch CPU threads per process; None: PyTorch's default
    space: dict[str, Any] | None = None  # dotted key -> distribution; None: the paper's space

    def validate(self) -> None:
        check_choice("search.strategy", self.strategy, strategy_names())
        check_choice("search.metric", self.metric, METRICS)
        SAMPLERS.get(self.sampler)
        check_range("search.n_candidates", self.n_candidates, 1)
        check_range("search.batch", self.batch, 1)
        check_range("search.first_epoch", self.first_epoch, 1)
        check_range("search.epochs_per_round", self.epochs_per_round, 0)
        self.keep = check_keep(self.keep)
        check_range("search.finalists", self.finalists, 1)
        if self.final_epochs is not None:
            check_range("search.final_epochs", self.final_epochs, 1)
        # ASHA checks its own argument when built; a typo here is caught even while another
        # strategy is chosen, rather than when someone switches to asha.
        check_choice("search.asha_promotion", self.asha_promotion, PROMOTIONS)
        check_choice("search.final_state", self.final_state, FINAL_STATES)
        check_range("search.final_seeds", self.final_seeds, 1)
        check_range("search.heartbeat_interval", self.heartbeat_interval, 1)
        if self.dense_seed is not None:
            check_range("search.dense_seed", self.dense_seed, 0)
        if self.threads is not None:
            check_range("search.threads", self.threads, 1)
        if self.space is not None and not isinstance(self.space, dict):
            raise UserError(f"search.space must be a mapping of dotted keys to distributions, got {self.space!r}")


@dataclass
class LyapunovSettings:
    convention: str = "reference"      # reference: hidden states only | standard: the whole state
    k: int | None = None               # exponents computed; None: as many as the state has
    warmup: int = 10                   # probe tokens that warm the state (and frame) up before measuring
    sequences: int = 2                 # probe windows of the validation split (the paper's first round: 2 x 35)
    # probe windows for scores after e0 (later rounds, later asha rungs): the released code measures
    # its later rounds on 5 (main_pruning_competition.py:95). None: `sequences` at every epoch, so that
    # scores of different rounds come from one measurement (our option; docs/paper.md).
    later_sequences: int | None = 5
    length: int = 35                   # measured tokens per probe window
    distance: str = "l2"               # l2 (the paper's) | l2-topk | relative | wasserstein
    probe: str = "first"               # first | random: which validation windows
    seed: int = 0                      # probe windows and initial tangent vectors
    measure: str = "last-improving"    # which state a sparse candidate is scored on at epoch e (its
                                       # spectrum and loss): last-improving (the paper's: before the update,
                                       # of the last epoch <= e that improved validation) | before-update
                                       # (of epoch e) | after-update (epoch e's checkpoint); measurement.py

    def validate(self) -> None:
        check_choice("lyapunov.convention", self.convention, ["reference", "standard"])
        check_choice("lyapunov.measure", self.measure, ["last-improving", "before-update", "after-update"])
        if self.k is not None:
            check_range("lyapunov.k", self.k, 1)
        check_range("lyapunov.warmup", self.warmup, 0)
        check_range("lyapunov.sequences", self.sequences, 1)
        if self.later_sequences is not None:
            check_range("lyapunov.later_sequences", self.later_sequences, 1)
        check_range("lyapunov.length", self.length, 1)
        check_choice("lyapunov.probe", self.probe, ["first", "random"])


@dataclass
class SearchConfig(RunConfig):
    """A run (data, model, train, sparse, seed, device, run_dir) plus how to search over it."""

    run_dir: str = "runs/search"
    search: SearchSettings = field(default_factory=SearchSettings)
    lyapunov: LyapunovSettings = field(default_factory=LyapunovSettings)

    def validate(self) -> None:
        s = self.search
        if not self.sparse.enabled:
            raise UserError("sparse.sparsity = 0 leaves nothing to prune; a search needs a target sparsity "
                            "in (0, 1), for example sparse.sparsity=0.67")
        if self.final_epochs < 1:
            raise UserError(f"train.epochs = {self.train.epochs} gives no training budget; "
                            f"set search.final_epochs or train.epochs to at least 1")
        if s.first_epoch > self.final_epochs:
            raise UserError(f"search.first_epoch = {s.first_epoch} is beyond the budget of "
                            f"{self.final_epochs} epochs; allowed: 1 to {self.final_epochs}")
        if s.sampler == "cmaes":
            if importlib.util.find_spec("cmaes") is None:
                raise UserError("search.sampler = cmaes needs the 'cmaes' package (pip install cmaes); "
                                "or use tpe, random, grid or gp")
        # The strategy's constructor is the one home of its checks (as Optuna's samplers check
        # theirs): building it here is pure and cheap, and the search builds its own once later.
        strategy_for(self)
        check_choice("lyapunov.distance", self.lyapunov.distance, DISTANCES)
        SearchSpace.from_config(self)          # validates every entry of the space

    @property
    def final_epochs(self) -> int:
        return self.search.final_epochs if self.search.final_epochs is not None else self.train.epochs

    def run_config(self) -> RunConfig:
        """The run every candidate starts from (before the space is applied), at the full budget."""
        raw = self.run_dict()
        return configuration.from_dict(RunConfig, raw)

    def run_dict(self) -> dict[str, Any]:
        raw = {f.name: to_dict(getattr(self, f.name)) for f in dataclasses.fields(RunConfig)}
        raw["train"]["epochs"] = self.final_epochs
        return raw

    # -- where things live --------------------------------------------------------------------

    @property
    def storage_url(self) -> str:
        if self.search.storage:
            return self.search.storage
        return f"sqlite:///{Path(self.run_dir).resolve() / 'study.db'}"

    @property
    def study_name(self) -> str:
        return self.search.study_name or Path(self.run_dir).resolve().name

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.search.checkpoint_dir or Path(self.run_dir) / "candidates").resolve()

    @property
    def dense_dir(self) -> Path:
        return Path(self.search.dense_dir or Path(self.run_dir) / "dense").resolve()


def load_search_config(path: str | Path | None, overrides: Sequence[str] = ()) -> SearchConfig:
    """A validated `SearchConfig` from YAML plus dotted `key=value` overrides."""
    return configuration.load(SearchConfig, path, overrides)


def resolved_paths(cfg: SearchConfig) -> SearchConfig:
    """`cfg` with absolute run, checkpoint and dense directories and storage URL: workers elsewhere
    read the config back from the study, so nothing may depend on the current directory."""
    raw = to_dict(cfg)
    raw["run_dir"] = str(Path(cfg.run_dir).resolve())
    raw["search"]["storage"] = cfg.storage_url
    raw["search"]["study_name"] = cfg.study_name
    raw["search"]["checkpoint_dir"] = str(cfg.checkpoint_dir)
    raw["search"]["dense_dir"] = str(cfg.dense_dir)
    if cfg.data.path is not None:
        raw["data"]["path"] = str(Path(cfg.data.path).resolve())
    if cfg.data.data_dir is not None:
        raw["data"]["data_dir"] = str(Path(cfg.data.data_dir).resolve())
    return configuration.from_dict(SearchConfig, raw)
