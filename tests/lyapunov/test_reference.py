"""The `reference` convention against the LSH paper's computation, written out plainly.

The paper's code (calc_LEs_an + lstm_jac + oneStepVarQR): dense Jacobian of h_t w.r.t. h_{t-1}
with c_{t-1} held fixed; warm-up: J^T products on the first `warmup` inputs and one QR; then every
input of the window again, Z = J^T Q, QR with positive diag(R); exponents = sum log2 R_ii / T.
"""

from __future__ import annotations

import pytest
import torch

from hyperprune.lyapunov import make_probe, model_spectrum


def paper_exponents(model, window, warmup, jacobian, transpose=True):
    """The paper's loop, one sequence at a time, numpy-style: (B, n) exponents in log2.

    `jacobian(model, x, state, b)`: the dense d h_t / d h_{t-1} of sequence b, cells held fixed.
    """
    T, B = window.shape
    results = []
    for b in range(B):
        state = model.init_state(B)
        n = sum(s.shape[1] for s, kind in zip(state, model.state_kinds()) if kind == "h")
        Q = torch.eye(n, dtype=torch.float64)
        for x in window[:warmup]:                                    # warm-up: products, no QR
            J = jacobian(model, x, state, b)
            state = model.step(x, state)
            Q = (J.T if transpose else J) @ Q
        Q, _ = torch.linalg.qr(Q)                                   # one QR, no sign fix
        log2_r = torch.zeros(n, dtype=torch.float64)
        for x in window:                                            # every input again, from the first
            J = jacobian(model, x, state, b)
            state = model.step(x, state)
            q, r = torch.linalg.qr((J.T if transpose else J) @ Q)
            signs = torch.sign(torch.diagonal(r))
            Q = q @ torch.diag(signs)
            log2_r += torch.log2(torch.diagonal(torch.diag(signs) @ r))
        results.append(log2_r / T)
    return torch.stack(results)


@pytest.mark.parametrize("preset", ["lstm-tiny", "gru-small"])
def test_reference_convention_equals_the_papers_computation(small_model, token_ids, dense_jacobian, preset):
    model = small_model(preset)
    probe = make_probe(token_ids(), n_sequences=2, length=14, warmup=5)
    result = model_spectrum(model, probe, convention="reference")
    expected = paper_exponents(model, probe.tokens[:probe.length], probe.warmup, dense_jacobian)
    torch.testing.assert_close(result.exponents, expected, atol=1e-10, rtol=0)
    assert (result.log_base, result.transposed, result.refeed, result.init) == (2.0, True, True, "identity")
    assert (result.steps, result.tangent_warmup, result.warmup) == (14, 5, 0)
    assert all(name.endswith(".h") for name in result.kept)


def test_reference_convention_for_rhn_uses_the_forward_product(small_model, token_ids, dense_jacobian):
    # The paper's RHN_jac returns the product of transposed micro-step Jacobians, so its J^T Q is J Q.
    model = small_model("rhn-small")
    probe = make_probe(token_ids(), n_sequences=2, length=10, warmup=3)
    result = model_spectrum(model, probe, convention="reference")
    assert not result.transposed
    expected = paper_exponents(model, probe.tokens[:probe.length], probe.warmup, dense_jacobian, transpose=False)
    torch.testing.assert_close(result.exponents, expected, atol=1e-10, rtol=0)


def test_standard_convention_uses_the_whole_state_and_fresh_inputs(small_model, token_ids):
    model = small_model("lstm-tiny")
    probe = make_probe(token_ids(), n_sequences=2, length=8, warmup=3)
    result = model_spectrum(model, probe)
    assert result.n == 4 * 32 and result.kept == ["layers.0.h", "layers.0.c", "layers.1.h", "layers.1.c"]
    assert (result.warmup, result.steps, result.refeed, result.transposed) == (3, 8, False, False)
    assert result.probe["warmup"] == 3 and result.model["state_kinds"] == ["h", "c", "h", "c"]


def test_model_spectrum_restores_training_mode_and_top_k(small_model, token_ids):
    model = small_model("lstm-tiny").train()
    probe = make_probe(token_ids(), n_sequences=2, length=8, warmup=3)
    # top-k follows the leading columns of a random frame (an identity frame's k < n is refused:
    # tests/lyapunov/test_display_order.py)
    full = model_spectrum(model, probe, convention="reference", init="random")
    top = model_spectrum(model, probe, convention="reference", k=5, init="random")
    assert model.training
    torch.testing.assert_close(top.exponents, full.exponents[:, :5], atol=1e-12, rtol=0)
