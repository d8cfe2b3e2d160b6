"""Shared fixtures for the Lyapunov tests: small float64 models, token ids, and dense Jacobians of a step."""

from __future__ import annotations

import pytest
import torch

from hyperprune.models import ModelConfig, build_model

VOCAB = 50


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


def _kept_indices(model, keep: str) -> list[int]:
    """Indices of the state tensors a convention keeps: "all", or "h" (LSTM cells held fixed)."""
    return [i for i, kind in enumerate(model.state_kinds()) if keep == "all" or kind == "h"]


def _restricted_map(model, x, state, keep: list[int], b: int):
    """Sequence b's map from its kept state (flat, (n,)) to the same, other tensors held fixed;
    returned with the point (n,) it is taken at."""
    sizes = [state[i].shape[1] for i in keep]

    def f(flat):
        full = [s[b:b + 1] for s in state]
        for i, piece in zip(keep, flat.split(sizes)):
            full[i] = piece.unsqueeze(0)
        out = model.step(x[b:b + 1], tuple(full))
        return torch.cat([out[i][0] for i in keep])

    return f, torch.cat([state[i][b] for i in keep])


def _dense_jacobian(model, x, state, b: int, keep: str = "h") -> torch.Tensor:
    """Sequence b's d s_t / d s_{t-1} (n, n) over the kept tensors, by plain autograd: the reference
    the engine's products are checked against."""
    f, s = _restricted_map(model, x, state, _kept_indices(model, keep), b)
    return torch.autograd.functional.jacobian(f, s, vectorize=True)


@pytest.fixture
def kept_indices():
    return _kept_indices


@pytest.fixture
def restricted_map():
    return _restricted_map


@pytest.fixture
def dense_jacobian():
    return _dense_jacobian
