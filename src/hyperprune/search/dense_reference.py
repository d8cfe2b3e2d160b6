"""The dense reference: what every candidate's spectrum is compared with.

The dense model is the search's run config without sparsity: same data, model, recipe and seed
(`search.dense_seed` gives it a seed of its own). It is trained once per content hash of those four in `DENSE_DIR/<hash>/` (a trainer run directory,
so a later search with a longer budget trains it further instead of again), and its spectrum at
each compared epoch is cached beside it as JSON, keyed by the probe and the Lyapunov settings
(`spectrum.spectrum_tag`; written and read by `measurement.py`).
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Iterator

from hyperprune.config import to_dict
from hyperprune.lyapunov.dense_spectra import content_hash
from hyperprune.sparse.config import SparseConfig
from hyperprune.train import RunConfig
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
