"""Dynamic sparse training: masks at an exact global sparsity, updated by registered strategies.

`SparseEngine` is the one object the trainer talks to; strategies live one per module under
`init/`, `death/`, `growth/`, `redistribution/` and `schedules/`, registered by name.
"""

from hyperprune.sparse.config import PRESET_TRAIN_OVERRIDES, PRESETS, SparseConfig, resolve_sparse_config
from hyperprune.sparse.counts import apportion, removal_count, target_nonzeros
from hyperprune.sparse.engine import SparseEngine
from hyperprune.sparse.registry import (
    DEATH,
    GROWTH,
    INIT,
    REDISTRIBUTION,
    SCHEDULE,
    register_death,
    register_growth,
    register_init,
    register_redistribution,
    register_schedule,
)
from hyperprune.sparse.summary import sparsity_summary

__all__ = [
    "DEATH",
    "GROWTH",
    "INIT",
    "PRESETS",
    "PRESET_TRAIN_OVERRIDES",
    "REDISTRIBUTION",
    "SCHEDULE",
    "SparseConfig",
    "SparseEngine",
    "apportion",
    "register_death",
    "register_growth",
    "register_init",
    "register_redistribution",
    "register_schedule",
    "removal_count",
    "resolve_sparse_config",
    "sparsity_summary",
    "target_nonzeros",
]
