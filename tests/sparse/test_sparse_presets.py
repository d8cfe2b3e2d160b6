"""Presets fill SparseConfig fields still at their default; explicit settings win."""

from __future__ import annotations

import pytest

from hyperprune.config import from_dict
from hyperprune.errors import UserError
from hyperprune.sparse import (
    PRESET_TRAIN_OVERRIDES,
    PRESETS,
    SparseConfig,
    resolve_sparse_config,
)
from hyperprune.sparse.registry import DEATH, GROWTH, INIT, REDISTRIBUTION, SCHEDULE


def test_selfish_rnn_preset():
    cfg = resolve_sparse_config(SparseConfig(sparsity=0.67, preset="selfish-rnn"))
    assert (cfg.init, cfg.death, cfg.growth, cfg.redistribution) == ("uniform", "magnitude", "random", "none")
    assert cfg.death_rate_schedule == "cosine" and cfg.update_every == 0 and cfg.sparsity == 0.67
    assert PRESET_TRAIN_OVERRIDES["selfish-rnn"] == {"optimizer": "nt-asgd"}


@pytest.mark.parametrize("preset,expected", [
    ("set", {"init": "ER", "death": "SET", "growth": "random", "redistribution": "none",
                 "death_rate": 0.3, "death_rate_schedule": "constant"}),
    ("rigl", {"init": "ERK", "death": "magnitude", "growth": "gradient", "redistribution": "none",
                  "death_rate": 0.3, "death_rate_schedule": "cosine", "death_rate_floor": 0.0,
                  "update_every": 100}),
    ("snfs", {"init": "uniform", "death": "magnitude", "growth": "momentum", "redistribution": "momentum",
                  "death_rate": 0.5, "death_rate_schedule": "cosine", "update_every": 0}),
])
def test_presets_fill_fields(preset, expected):
    cfg = resolve_sparse_config(SparseConfig(sparsity=0.5, preset=preset))
    for key, value in expected.items():
        assert getattr(cfg, key) == value, key


def test_explicit_fields_win_over_the_preset():
    cfg = resolve_sparse_config(SparseConfig(sparsity=0.5, preset="rigl", death_rate=0.7, growth="momentum"))
    assert cfg.death_rate == 0.7 and cfg.growth == "momentum" and cfg.init == "ERK"


def test_resolution_returns_a_copy_and_is_idempotent():
    raw = SparseConfig(sparsity=0.5, preset="set")
    once = resolve_sparse_config(raw)
    assert raw.init == "uniform"
    assert resolve_sparse_config(once) == once


def test_every_preset_names_registered_strategies():
    registries = {"init": INIT, "death": DEATH, "growth": GROWTH, "redistribution": REDISTRIBUTION,
                  "death_rate_schedule": SCHEDULE}
    for name, preset in PRESETS.items():
        cfg = resolve_sparse_config(SparseConfig(sparsity=0.5, preset=name))
        named = {key: getattr(cfg, key) for key in registries}
        assert named == {key: preset.get(key, getattr(SparseConfig(), key)) for key in registries}, name
        assert all(value in registries[key].names() for key, value in named.items()), (name, named)


def test_unknown_preset_and_strategy_names_from_yaml_are_one_line_errors():
    with pytest.raises(UserError, match="did you mean 'rigl'"):
        from_dict(SparseConfig, {"sparsity": 0.5, "preset": "rigI"})
    with pytest.raises(UserError, match="did you mean 'ERK'"):
        from_dict(SparseConfig, {"init": "ERKK"})
    with pytest.raises(UserError, match="sparse.redistribution"):
        from_dict(SparseConfig, {"redistribution": "nonzero"})
    with pytest.raises(UserError, match="sparse.momentum_decay"):
        from_dict(SparseConfig, {"momentum_decay": 1.0})
    with pytest.raises(UserError, match=r"unknown sparse.clip_norm_over 'pruned'; allowed: all, kept"):
        from_dict(SparseConfig, {"clip_norm_over": "pruned"})
    with pytest.raises(UserError, match=r"sparse.threshold_init = 0.0 is out of range"):
        from_dict(SparseConfig, {"threshold_init": 0.0})
    with pytest.raises(UserError, match=r"sparse.death_rate_floor = -0.1 is out of range"):
        from_dict(SparseConfig, {"death_rate_floor": -0.1})
