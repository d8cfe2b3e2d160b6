"""Recurrent language models with one interface: init_state, forward, step, state_kinds, penalty, sparsifiable."""

from hyperprune.models.base import RecurrentLM, State, detach_state
from hyperprune.models.build import build_model
from hyperprune.models.config import ModelConfig
from hyperprune.models.presets import FAMILIES, PRESETS, resolve_model_config

__all__ = ["FAMILIES", "PRESETS", "ModelConfig", "RecurrentLM", "State", "build_model", "detach_state",
           "resolve_model_config"]
