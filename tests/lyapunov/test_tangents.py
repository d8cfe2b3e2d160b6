"""Analytic LSTM / GRU / RNN / RHN tangents against autograd Jacobians and finite differences."""

from __future__ import annotations

import pytest
import torch

from hyperprune.errors import UserError
from hyperprune.lyapunov import (
    AnalyticTangent,
    AutogradTangent,
    make_probe,
    model_spectrum,
)

PRESETS = ["lstm-tiny", "gru-small", "rnn-small", "rhn-small", "awd-lstm-small"]


def warm_state(model, steps: int = 4, batch: int = 2):
    tokens = torch.randint(0, 50, (steps + 1, batch), generator=torch.Generator().manual_seed(1))
    state = model.init_state(batch)
    with torch.no_grad():
        for x in tokens[:steps]:
            state = model.step(x, state)
    return tokens[steps], state


def analytic_jacobian(model, x, state, keep, transpose=False):
    """Push the identity frame through the analytic tangent: J (B, n, n), or J^T."""
    tangent = AnalyticTangent(model, keep=keep, transpose=transpose)
    n = tangent.dim(state)
    _, push = tangent.linearize(x, state)
    return push(torch.eye(n, dtype=torch.float64).expand(x.shape[0], n, n).contiguous())


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("keep", ["all", "h"])
def test_analytic_jacobian_equals_autograd_and_finite_differences(small_model, dense_jacobian, kept_indices,
                                                                   restricted_map, preset, keep):
    model = small_model(preset)
    x, state = warm_state(model)
    idx = kept_indices(model, keep)
    J = analytic_jacobian(model, x, state, keep)                       # (B, n, n)
    J_T = analytic_jacobian(model, x, state, keep, transpose=True)
    for b in range(x.shape[0]):
        f, s = restricted_map(model, x, state, idx, b)
        reference = dense_jacobian(model, x, state, b, keep)
        torch.testing.assert_close(J[b], reference, atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(J_T[b], reference.T, atol=1e-12, rtol=1e-10)
        eps = 1e-6
        with torch.no_grad():
            columns = [(f(s + eps * e) - f(s - eps * e)) / (2 * eps) for e in torch.eye(s.numel(), dtype=s.dtype)]
        torch.testing.assert_close(J[b], torch.stack(columns, dim=1), atol=1e-6, rtol=0)


@pytest.mark.parametrize("preset", PRESETS)
def test_analytic_next_state_is_the_models_step_bit_for_bit(small_model, preset):
    model = small_model(preset)
    x, state = warm_state(model)
    ours, _ = AnalyticTangent(model).linearize(x, state)
    theirs = model.step(x, state)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("convention", ["standard", "reference"])
def test_generic_and_analytic_paths_agree_on_full_spectra(small_model, token_ids, preset, convention):
    model = small_model(preset)
    probe = make_probe(token_ids(), n_sequences=2, length=12, warmup=4)
    analytic = model_spectrum(model, probe, convention=convention, method="analytic")
    generic = model_spectrum(model, probe, convention=convention, method="autograd")
    assert (analytic.method, generic.method) == ("analytic", "autograd")
    assert analytic.k == analytic.n == generic.n
    torch.testing.assert_close(analytic.exponents, generic.exponents, atol=1e-10, rtol=0)


def test_autograd_tangent_matches_jacobian_for_any_step():
    torch.manual_seed(0)
    A = torch.randn(3, 3, dtype=torch.float64)

    def step(u, s):
        a, b = s
        return torch.sin(a @ A.T) * b + u, b * torch.tanh(a)

    state = (torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64))
    u = torch.randn(2, 3, dtype=torch.float64)
    for transpose in (False, True):
        _, push = AutogradTangent(step, transpose=transpose).linearize(u, state)
        J = push(torch.eye(6, dtype=torch.float64).expand(2, 6, 6).contiguous())
        for b in range(2):
            def f(flat, b=b):
                out = step(u[b:b + 1], (flat[:3].unsqueeze(0), flat[3:].unsqueeze(0)))
                return torch.cat([out[0][0], out[1][0]])
            reference = torch.autograd.functional.jacobian(f, torch.cat([state[0][b], state[1][b]]))
            torch.testing.assert_close(J[b], reference.T if transpose else reference, atol=1e-13, rtol=0)


def test_auto_falls_back_to_autograd_when_the_cell_equations_differ(small_model, token_ids):
    model = small_model("lstm-tiny")
    original = type(model).step
    model.step = lambda x, s: tuple(1.01 * t for t in original(model, x, s))  # not the LSTM any more
    probe = make_probe(token_ids(), n_sequences=2, length=6, warmup=2)
    with pytest.warns(RuntimeWarning, match="using autograd"):
        result = model_spectrum(model, probe, method="auto")
    assert result.method == "autograd"
    with pytest.raises(UserError, match="does not reproduce"):
        model_spectrum(model, probe, method="analytic")


def test_tangent_map_is_abstract():
    from hyperprune.lyapunov import TangentMap
    assert TangentMap.__abstractmethods__ == {"advance", "linearize"}
    with pytest.raises(TypeError, match="abstract"):
        TangentMap()
