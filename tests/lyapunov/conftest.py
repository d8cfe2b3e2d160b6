"""Shared fixtures for the Lyapunov tests: small float64 models and token ids."""

from __future__ import annotations

import pytest
import torch

from hyperprune.models import ModelConfig, build_model

VOCAB = 50


@pytest.fixture(autouse=True)
def one_thread():
    """The maps here are tiny: one thread is fastest, and immune to a busy shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _small_model(preset: str, seed: int = 0, **overrides) -> torch.nn.Module:
    """A float64 model in eval mode, recurrent weights spread so gates are neither saturated nor linear."""
    torch.manual_seed(seed)
    model = build_model(ModelConfig(preset=preset, **overrides), VOCAB).double().eval()
    with torch.no_grad():
        for layer in model.layers:
            layer.weight_hh.mul_(4.0)
            layer.bias_hh.normal_(0.0, 0.5)
    return model


@pytest.fixture
def small_model():
    return _small_model


@pytest.fixture
def token_ids():
    def make(n: int = 400, seed: int = 0) -> torch.Tensor:
        return torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed))
    return make
