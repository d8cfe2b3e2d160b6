"""The QR engine on maps whose spectra are known exactly."""

from __future__ import annotations

import json
import math

import pytest
import torch

from hyperprune.errors import UserError
from hyperprune.lyapunov import LyapunovSpectrum, initial_frame, lyapunov_spectrum

f64 = torch.float64


def linear_map(W: torch.Tensor):
    """s' = W s + u_t: the Jacobian is W at every step, whatever the inputs."""
    return lambda u, s: s @ W.T + u


def random_orthogonal(n: int, seed: int) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, dtype=f64, generator=torch.Generator().manual_seed(seed)))
    return q * torch.sign(r.diagonal())


def drive(T: int, B: int, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(T, B, n, dtype=f64, generator=torch.Generator().manual_seed(seed))


def test_diagonal_linear_map_gives_log_abs_eigenvalues_sorted():
    d = torch.tensor([0.2, -2.0, 0.7, 3.0, -0.4, 1.2], dtype=f64)  # unsorted, mixed signs
    B, n = 3, d.numel()
    result = lyapunov_spectrum(linear_map(torch.diag(d)), torch.zeros(B, n, dtype=f64), drive(140, B, n),
                               tangent_warmup=100)
    expected = torch.sort(d.abs().log(), descending=True).values
    assert result.steps == 40
    torch.testing.assert_close(result.exponents, expected.expand(B, n), atol=1e-12, rtol=0)


def test_normal_linear_map_gives_log_moduli_of_complex_eigenvalues():
    # W = O blockdiag(r1 Rot(a1), r2 Rot(a2), 0.3) O^T is normal; its eigenvalue moduli are r1, r1, r2, r2, 0.3
    def rotation(r, a):
        return r * torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=f64)
    core = torch.block_diag(rotation(1.5, 0.7), rotation(0.6, 2.1), torch.tensor([[0.3]], dtype=f64))
    O = random_orthogonal(5, seed=1)
    W = O @ core @ O.T
    result = lyapunov_spectrum(linear_map(W), torch.zeros(2, 5, dtype=f64), drive(150, 2, 5), tangent_warmup=100)
    expected = torch.tensor([1.5, 1.5, 0.6, 0.6, 0.3], dtype=f64).log()
    torch.testing.assert_close(result.mean, expected, atol=1e-12, rtol=0)


def test_orthogonal_map_gives_zeros():
    W = random_orthogonal(7, seed=2)
    result = lyapunov_spectrum(linear_map(W), torch.zeros(2, 7, dtype=f64), drive(30, 2, 7))
    torch.testing.assert_close(result.exponents, torch.zeros(2, 7, dtype=f64), atol=1e-14, rtol=0)


def henon(x, s):
    """Henon map (a = 1.4, b = 0.3); it ignores its input."""
    X, Y = s[:, :1], s[:, 1:]
    return torch.cat([1 - 1.4 * X ** 2 + Y, 0.3 * X], dim=1)


def test_henon_map():
    B = 32
    s0 = 0.1 * torch.rand(B, 2, dtype=f64, generator=torch.Generator().manual_seed(0))
    result = lyapunov_spectrum(henon, s0, torch.zeros(100 + 50 + 1500, B, dtype=f64), warmup=100, tangent_warmup=50)
    # Published values (e.g. Sprott 2003, Chaos and Time-Series Analysis, table A.1): 0.41922, -1.62319
    assert abs(float(result.mean[0]) - 0.41922) < 0.01
    assert abs(float(result.mean[1]) + 1.62319) < 0.01
    # |det J| = b at every step, so lambda_1 + lambda_2 = ln b up to rounding, for every sequence
    torch.testing.assert_close(result.exponents.sum(dim=1), torch.full((B,), math.log(0.3), dtype=f64),
                               atol=1e-9, rtol=0)


def test_log_base_scales_exponents():
    d = torch.tensor([2.0, 0.5, 0.9], dtype=f64)
    u = drive(20, 2, 3)
    natural = lyapunov_spectrum(linear_map(torch.diag(d)), torch.zeros(2, 3, dtype=f64), u)
    base2 = lyapunov_spectrum(linear_map(torch.diag(d)), torch.zeros(2, 3, dtype=f64), u, log_base=2)
    torch.testing.assert_close(base2.exponents, natural.exponents / math.log(2), atol=1e-14, rtol=0)
    assert base2.log_base == 2.0


def test_first_k_of_full_spectrum_equal_top_k_run():
    torch.manual_seed(3)
    W = torch.randn(8, 8, dtype=f64) / 8 ** 0.5

    def step(u, s):
        return torch.tanh(2.0 * s @ W.T + u)

    u, s0 = drive(60, 2, 8), torch.zeros(2, 8, dtype=f64)
    full = lyapunov_spectrum(step, s0, u, warmup=5)
    top3 = lyapunov_spectrum(step, s0, u, warmup=5, k=3)
    assert (full.k, top3.k) == (8, 3)
    torch.testing.assert_close(top3.exponents, full.exponents[:, :3], atol=1e-12, rtol=0)
    # the random frames nest: the k-column frame is the first k columns of the full one
    torch.testing.assert_close(initial_frame(8, 3, seed=4), initial_frame(8, 8, seed=4)[:, :3], atol=1e-14, rtol=0)


def test_results_do_not_depend_on_batch_order():
    torch.manual_seed(4)
    W = torch.randn(6, 6, dtype=f64) / 6 ** 0.5

    def step(u, s):
        return torch.tanh(1.5 * s @ W.T + u)

    u = drive(40, 4, 6)
    perm = torch.tensor([2, 0, 3, 1])
    a = lyapunov_spectrum(step, torch.zeros(4, 6, dtype=f64), u, warmup=5)
    b = lyapunov_spectrum(step, torch.zeros(4, 6, dtype=f64), u[:, perm], warmup=5)
    torch.testing.assert_close(b.exponents, a.exponents[perm], atol=1e-13, rtol=0)


def test_qr_every_equals_qr_each_step_on_a_well_conditioned_map():
    # singular values of W in [0.6, 1.6]: five-step products stay well conditioned
    U, V = random_orthogonal(6, 5), random_orthogonal(6, 6)
    W = U @ torch.diag(torch.linspace(1.6, 0.6, 6, dtype=f64)) @ V.T

    def step(u, s):
        return s @ W.T + 0.1 * torch.tanh(s) + u

    u = drive(53, 2, 6)  # 50 measured: blocks of 5, 5, ..., and 3 at the end for qr_every=7
    ref = lyapunov_spectrum(step, torch.zeros(2, 6, dtype=f64), u, warmup=3)
    for every in (5, 7):
        other = lyapunov_spectrum(step, torch.zeros(2, 6, dtype=f64), u, warmup=3, qr_every=every)
        torch.testing.assert_close(other.exponents, ref.exponents, atol=1e-12, rtol=0)
        assert other.qr_every == every


def test_warmup_phases_and_refeed_read_the_right_inputs():
    # s' = x s in one dimension: each measured step contributes log|x_t|
    x = torch.tensor([2.0, 3.0, 5.0, 7.0, 11.0], dtype=f64).view(5, 1, 1)

    def step(u, s):
        return u * s

    s0 = torch.ones(1, 1, dtype=f64)
    plain = lyapunov_spectrum(step, s0, x, warmup=2, tangent_warmup=1)
    assert plain.steps == 2
    assert math.isclose(float(plain.exponents), (math.log(7) + math.log(11)) / 2, rel_tol=1e-14)
    refed = lyapunov_spectrum(step, s0, x, warmup=2, tangent_warmup=1, refeed=True)
    assert refed.steps == 5 and refed.refeed
    assert math.isclose(float(refed.exponents), math.log(2 * 3 * 5 * 7 * 11) / 5, rel_tol=1e-14)


def test_tuple_state_and_kept_subset():
    # state (a, b): a' = 2 a + b, b' = 0.5 b. Keeping only a (b held fixed) gives log 2.
    def step(u, s):
        a, b = s
        return 2 * a + b, 0.5 * b

    from hyperprune.lyapunov import AutogradTangent
    s0 = (torch.ones(2, 1, dtype=f64), torch.ones(2, 1, dtype=f64))
    u = torch.zeros(10, 2, dtype=f64)
    both = lyapunov_spectrum(step, s0, u, init="identity")
    torch.testing.assert_close(both.mean, torch.tensor([2.0, 0.5], dtype=f64).log(), atol=1e-14, rtol=0)
    only_a = lyapunov_spectrum(step, s0, u, keep=[0])
    assert lyapunov_spectrum(None, s0, u, tangent=AutogradTangent(step, keep=[0])).exponents.equal(only_a.exponents)
    assert only_a.n == 1 and only_a.kept == ["state[0]"]
    torch.testing.assert_close(only_a.mean, torch.tensor([math.log(2.0)], dtype=f64), atol=1e-14, rtol=0)


def test_transposed_products_on_a_non_normal_linear_map():
    # W = P diag(d) P^-1 and W^T share the eigenvalues d; once the frame holds the Schur vectors,
    # each step's R is the Schur form's diagonal, so both orientations give log|d| exactly.
    d = torch.tensor([2.5, -1.5, 0.8, 0.4, -0.2], dtype=f64)
    P = torch.eye(5, dtype=f64) + 0.5 * torch.randn(5, 5, dtype=f64, generator=torch.Generator().manual_seed(6))
    W = P @ torch.diag(d) @ torch.linalg.inv(P)
    step = linear_map(W)
    u, s0 = drive(160, 1, 5), torch.zeros(1, 5, dtype=f64)
    forward = lyapunov_spectrum(step, s0, u, tangent_warmup=120)
    transposed = lyapunov_spectrum(step, s0, u, tangent_warmup=120, transpose=True)
    assert transposed.transposed and not forward.transposed
    expected = torch.sort(d.abs().log(), descending=True).values
    torch.testing.assert_close(forward.mean, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(transposed.mean, expected, atol=1e-10, rtol=0)


def test_float64_frame_for_a_float32_map():
    d = torch.tensor([1.5, 0.5])
    result = lyapunov_spectrum(linear_map(torch.diag(d)), torch.zeros(1, 2), torch.zeros(10, 1, 2),
                               frame_dtype=torch.float64, init="identity")
    assert (result.frame_dtype, result.state_dtype) == ("float64", "float32")
    torch.testing.assert_close(result.mean, d.double().log(), atol=1e-7, rtol=0)


def test_minus_inf_is_flagged_not_hidden():
    W = torch.diag(torch.tensor([2.0, 0.0], dtype=f64))  # a collapsing direction: R_22 = 0 exactly
    with pytest.warns(RuntimeWarning, match="-inf"):
        result = lyapunov_spectrum(linear_map(W), torch.zeros(2, 2, dtype=f64), torch.zeros(5, 2, 2, dtype=f64),
                                   init="identity")
    assert result.finite.tolist() == [[True, False], [True, False]]
    assert not result.all_finite
    assert math.isinf(float(result.mean[1])) and float(result.mean[1]) < 0
    assert len(result.issues) == 2 and "sequence 0" in result.issues[0]
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))  # strict JSON
    assert data["mean"][1] == "-inf"
    assert math.isinf(float(LyapunovSpectrum.from_dict(data).exponents[0, 1]))


def test_nan_is_flagged_and_propagates_to_the_mean():
    def step(u, s):  # sequence 1's state and Jacobian turn NaN at the third step
        factor = torch.full_like(s, 0.5)
        if int(u[0]) == 2:
            factor[1] = float("nan")
        return factor * s

    u = torch.arange(6, dtype=f64).view(6, 1).expand(6, 2).contiguous()
    with pytest.warns(RuntimeWarning, match="NaN"):
        result = lyapunov_spectrum(step, torch.ones(2, 3, dtype=f64), u)
    assert result.finite[0].all() and not result.finite[1].any()
    assert torch.isnan(result.mean).all()
    assert "sequence 1" in result.issues[0]


def test_result_records_every_setting_and_round_trips():
    u = drive(12, 2, 3)
    result = lyapunov_spectrum(linear_map(torch.eye(3, dtype=f64) * 0.5), torch.zeros(2, 3, dtype=f64), u,
                               k=2, warmup=2, tangent_warmup=3, qr_every=2, log_base=2, seed=7)
    settings = result.settings()
    for key, value in dict(k=2, n=3, steps=7, warmup=2, tangent_warmup=3, qr_every=2, log_base=2.0, seed=7,
                           init="random", method="autograd", transposed=False, refeed=False,
                           frame_dtype="float64", batch_size=2, convention="custom").items():
        assert settings[key] == value, key
    again = LyapunovSpectrum.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    torch.testing.assert_close(again.exponents, result.exponents, atol=0, rtol=0)
    assert again.settings() == settings


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=4), "k \\(number of exponents\\) = 4"),
    (dict(k=0), "out of range"),
    (dict(warmup=8, tangent_warmup=2), "measured steps"),
    (dict(qr_every=0), "qr_every"),
    (dict(log_base=1.0), "log_base"),
    (dict(init="eye"), "unknown frame init 'eye'"),
])
def test_bad_settings_are_user_errors(kwargs, match):
    with pytest.raises(UserError, match=match):
        lyapunov_spectrum(linear_map(torch.eye(3, dtype=f64)), torch.zeros(1, 3, dtype=f64), drive(10, 1, 3), **kwargs)
