"""The dense reference and the probe: what every candidate's spectrum is compared with, and on what.

The dense model is the search's run config without sparsity: same data, model, recipe and seed
(`search.dense_seed` gives it a seed of its own). It is trained once per content hash of those four in `DENSE_DIR/<hash>/` (a trainer run directory,
so a later search with a longer budget trains it further instead of again), and its spectrum at
each compared epoch is cached beside it as JSON, keyed by the probe and the Lyapunov settings
(written and read by `measurement.py`).
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from pathlib import Path
from typing import Iterator

import torch

from hyperprune.config import to_dict
from hyperprune.errors import UserError
from hyperprune.lyapunov import LyapunovSpectrum, Probe, make_probe, model_spectrum
from hyperprune.lyapunov.dense_spectra import content_hash
from hyperprune.sparse.config import SparseConfig
from hyperprune.train import RunConfig, Trainer
from hyperprune.train.trainer import resolve_run_config


class DenseReference:
    def __init__(self, cfg, replica: int = 0):
        """`replica` k > 0: the same dense model under seed + k (search.final_seeds), its own cache."""
        run = resolve_run_config(cfg.run_config())
        # The seed is part of the content hash as it always was: unset, the cache is the one before
        # dense_seed existed; set to another number, it is another dense model.
        seed = (run.seed if cfg.search.dense_seed is None else cfg.search.dense_seed) + replica
        self.config = RunConfig(data=run.data, model=run.model, train=run.train, sparse=SparseConfig(),
                                seed=seed, device=run.device, run_dir="")
        content = to_dict(self.config)
        for key in ("run_dir", "device", "sparse"):
            content.pop(key)
        content["data"].pop("data_dir")              # where the corpus lives is not what it is
        content["train"].pop("epochs")               # only the sparse schedule reads the budget
        if content["train"].get("test_batch_size") is None:
            # unset, it is the eval batch: the hash of every dense model cached before it existed holds
            content["train"].pop("test_batch_size", None)
        self.hash = content_hash(content)
        self.dir = Path(cfg.dense_dir) / self.hash
        self.config.run_dir = str(self.dir)

    def spectrum_path(self, tag: str, epoch: int) -> Path:
        return self.dir / "spectra" / f"{tag}-epoch-{epoch:04d}.json"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One trainer at a time on the cache, even across searches that share it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def probe_sequences(cfg, epoch: int) -> int:
    """Probe windows for a score at `epoch`: `lyapunov.sequences` at e0 and before, then
    `later_sequences` (the released code's 2 in its first round and 5 in the later ones)."""
    lyap = cfg.lyapunov
    if lyap.later_sequences is not None and epoch > cfg.search.first_epoch:
        return lyap.later_sequences
    return lyap.sequences


def build_probe(cfg, valid_ids: torch.Tensor, sequences: int | None = None) -> Probe:
    """The search's probe on the validation ids, with `sequences` windows (default: the first round's)."""
    lyap = cfg.lyapunov
    return make_probe(valid_ids, n_sequences=sequences or lyap.sequences, length=lyap.length, seed=lyap.seed,
                      warmup=lyap.warmup, mode=lyap.probe)


def spectrum_tag(cfg, probe: Probe) -> str:
    """Names a spectrum's settings: the same tag means the same measurement."""
    settings = to_dict(cfg.lyapunov)
    settings.pop("distance")
    settings.pop("later_sequences")    # the probe says how many windows it has (and older tags hold)
    # The dense model has no mask update: before and after it are one state, one cache entry (the
    # tag of the caches written before `measure` existed). The last improving epoch may be another.
    if settings.pop("measure") == "last-improving":
        settings["state"] = "last-improving"
    return content_hash({"settings": settings, "probe": probe.to_dict()}, 10)


def measure(trainer: Trainer, probe: Probe, cfg) -> tuple[LyapunovSpectrum, float]:
    """The spectrum of the trainer's model as evaluated (ASGD averages), and the seconds it took."""
    start = time.perf_counter()
    with trainer.evaluation_weights():
        spectrum = measure_model(trainer.model, probe, cfg)
    return spectrum, time.perf_counter() - start


def measure_model(model, probe: Probe, cfg) -> LyapunovSpectrum:
    """The spectrum of `model` with its weights as they are, in the search's Lyapunov settings."""
    lyap = cfg.lyapunov
    return model_spectrum(model, probe, convention=lyap.convention, k=lyap.k, warmup=lyap.warmup, seed=lyap.seed)


def state_size(cfg) -> int:
    """Dimension of the tangent space a convention measures, from a model built on a tiny vocabulary."""
    from hyperprune.models import build_model, resolve_model_config
    model = build_model(resolve_model_config(cfg.model), 4)
    state = model.init_state(1)
    kinds = model.state_kinds()
    return sum(s.shape[1] for s, kind in zip(state, kinds)
               if cfg.lyapunov.convention == "standard" or kind == "h")


def check_k(cfg, strategy) -> None:
    """`lyapunov.k` against the model's state, where `strategy` (the search's) compares spectra."""
    k = cfg.lyapunov.k
    if k is None or not strategy.compared_epochs():
        return                      # no spectrum is measured
    n = state_size(cfg)
    if k > n:
        raise UserError(f"lyapunov.k = {k} is beyond the state size {n} of model "
                        f"'{cfg.model.preset or cfg.model.family}' ({cfg.lyapunov.convention} convention); "
                        f"allowed: 1 to {n}")
    if k < n and cfg.lyapunov.convention == "reference":
        # Its identity frame measures the first k units of layer 0, not the leading k exponents.
        raise UserError(f"lyapunov.k = {k} with the reference convention: the leading k need init=random; "
                        f"the paper's reference uses all exponents (leave lyapunov.k out, or use "
                        f"lyapunov.convention=standard)")
