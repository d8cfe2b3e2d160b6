"""A tiny search config on the tiny corpus: a whole search in seconds."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from hyperprune.config import from_dict
from hyperprune.search import SearchConfig


def tiny_search_raw(corpus_dir: Path, run_dir: Path, **sections) -> dict:
    raw = {
        "data": {"name": "custom", "path": str(corpus_dir)},
        "model": {"preset": "lstm-tiny", "hidden_size": 16, "init_range": 0.3},
        "train": {"epochs": 3, "batch_size": 4, "eval_batch_size": 4, "bptt": 8, "lr": 2.0,
                  "decay_after": 2, "lr_decay": 0.5, "clip": 0.5},
        "sparse": {"sparsity": 0.5},
        "seed": 1,
        "device": "cpu",
        "run_dir": str(run_dir),
        "search": {"n_candidates": 6, "first_epoch": 1, "epochs_per_round": 1, "keep": 0.5,
                   "finalists": 2, "sampler": "random", "threads": 1},
        "lyapunov": {"sequences": 2, "length": 12, "warmup": 4},
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            raw[key] = {**raw.get(key, {}), **value}
        else:
            raw[key] = value
    return raw


def tiny_search(corpus_dir: Path, run_dir: Path, **sections) -> SearchConfig:
    return from_dict(SearchConfig, copy.deepcopy(tiny_search_raw(corpus_dir, run_dir, **sections)))


@pytest.fixture
def tiny_cfg(tiny_corpus_dir, tmp_path):
    def make(run_dir=None, **sections):
        return tiny_search(tiny_corpus_dir, Path(run_dir) if run_dir else tmp_path / "run", **sections)
    return make
