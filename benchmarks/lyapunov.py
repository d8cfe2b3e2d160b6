"""Lyapunov spectrum benchmark: our engine against a plain autograd-Jacobian computation.

For 2x200 and 2x650 LSTM language models (random weights, vocabulary 10000), B = 2 sequences,
T = 35 measured tokens, warm-up 10, the LSH paper's `reference` convention (h only, c held fixed,
J^T products, log2, warm-up tokens re-fed), all in one process, 2 threads:

  (a)  baseline: per step and sequence, the dense Jacobian d h_t / d h_{t-1} by
       torch.autograd.functional.jacobian (its default: one backward pass per output, as the paper's
       own `calc_Jac`), then Z = J^T Q and a full QR, written plainly below;
  (a') the same with jacobian(..., vectorize=True) (one vmapped backward): a stronger baseline;
  (b)  ours, full spectrum (k = n), model_spectrum(convention="reference");
  (c)  ours, k = 64;
  (d)  the floor of (b): only the matmuls and QRs that (b) cannot avoid -- per step the three
       (B, H, H) x (B, H, k) products of the stack's block-triangular J^T and, when measuring, the
       QR of the (B, n, k) frame -- on preallocated tensors of the same shapes.

GFLOP/s counts 2mnk per matmul and 2(2nk^2 - 2k^3/3) per QR (geqrf + orgqr on n x k).

    python benchmarks/lyapunov.py --out benchmarks/results/lyapunov.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path

# On a shared machine, OpenMP workers that spin-wait between parallel regions steal the cores the
# main thread needs: at load ~4 on 2 cores a 2x650 k=64 run took 16 s instead of 0.7 s. Passive
# waiting (set before torch loads its OpenMP runtime) removes that; it applies to every variant.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from hyperprune.lyapunov import make_probe, model_spectrum
from hyperprune.models import ModelConfig, build_model

SIZES = {"2x200": "lstm-small", "2x650": "lstm-medium"}
VOCAB, B, T, WARMUP, K_SMALL = 10000, 2, 35, 10, 64


# ---- (a) the plain baseline --------------------------------------------------------------------

def hidden_jacobian(model, x_t, state, b, vectorize):
    """Sequence b's d h_t / d h_{t-1} (n, n), every layer's h, the cells held fixed.

    The tests have a twin (`tests/lyapunov/conftest.py`) that is not imported here: the benchmark runs
    as a plain script without pytest or the test tree, and `vectorize` is one of the things it times.
    """
    h_idx = [i for i, kind in enumerate(model.state_kinds()) if kind == "h"]
    sizes = [state[i].shape[1] for i in h_idx]

    def f(h_flat):
        full = [s[b:b + 1] for s in state]
        for i, piece in zip(h_idx, h_flat.split(sizes)):
            full[i] = piece.unsqueeze(0)
        out = model.step(x_t[b:b + 1], tuple(full))
        return torch.cat([out[i][0] for i in h_idx])

    return torch.autograd.functional.jacobian(f, torch.cat([state[i][b] for i in h_idx]), vectorize=vectorize)


def baseline_reference(model, window, warmup, vectorize=False):
    """Plain Benettin with explicit Jacobians: Z = J^T Q, full QR every step; (B, n) log2 exponents.

    Warm-up steps QR too, but keep no R (the paper's code multiplies its 10 warm-up Jacobians with no
    QR and factors once; the same in exact arithmetic, but in float32 that product underflows the
    contracting directions relative to the leading ones and spoils the smallest exponents).
    """
    n_steps, batch = window.shape
    state = model.init_state(batch)
    n = sum(s.shape[1] for s, kind in zip(state, model.state_kinds()) if kind == "h")
    Q = torch.eye(n).expand(batch, n, n).contiguous()
    log2_r = torch.zeros(batch, n, dtype=torch.float64)
    for t, x_t in enumerate(list(window[:warmup]) + list(window)):
        J = torch.stack([hidden_jacobian(model, x_t, state, b, vectorize) for b in range(batch)])  # (B, n, n)
        with torch.no_grad():
            state = model.step(x_t, state)
        Q, R = torch.linalg.qr(J.mT @ Q)                                 # (B, n, n) each
        d = R.diagonal(dim1=1, dim2=2)
        Q = Q * torch.sign(d).unsqueeze(1)
        if t >= warmup:
            log2_r += d.abs().double().log2()
    return log2_r / n_steps


# ---- (d) the floor ------------------------------------------------------------------------------

def floor_time(H, k, steps, warmup, dtype=torch.float32):
    """Seconds for exactly the products and QRs of (b) on fixed tensors of the same shapes."""
    g = torch.Generator().manual_seed(0)
    A0, A1, X1 = (torch.randn(B, H, H, generator=g, dtype=dtype) / H ** 0.5 for _ in range(3))
    V = torch.linalg.qr(torch.randn(B, 2 * H, k, generator=g, dtype=dtype))[0]
    out = torch.empty_like(V)
    start = time.perf_counter()
    for t in range(warmup + steps):
        torch.bmm(A1.mT, V[:, H:], out=out[:, H:])                       # layer 1: A_1^T w_1
        below = torch.baddbmm(V[:, :H], X1.mT, V[:, H:])                # w_0 + X_1^T w_1
        torch.bmm(A0.mT, below, out=out[:, :H])                          # layer 0: A_0^T (...)
        torch.linalg.qr(out)
    return time.perf_counter() - start


def flops(H, k, steps, warmup):
    n = 2 * H
    matmul = 3 * 2 * H * H * k * B * (warmup + steps)
    qr = 2 * (2 * n * k * k - 2 * k ** 3 / 3) * B * (warmup + steps)
    return matmul + qr


# ---- driver ----------------------------------------------------------------------------------------

def timed(fn, repeats=1):
    """(value, best wall time of `repeats` runs): the minimum filters out a busy machine's noise."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return value, best


def run_size(name: str, preset: str, skip_plain: bool, repeats: int) -> dict:
    torch.manual_seed(0)
    model = build_model(ModelConfig(preset=preset), VOCAB).eval()
    H = model.layers[0].hidden_size
    ids = torch.randint(0, VOCAB, (20000,), generator=torch.Generator().manual_seed(1))
    probe = make_probe(ids, n_sequences=B, length=T, warmup=WARMUP)
    window = probe.tokens[:T]

    row: dict = {"size": name, "hidden": H, "n": 2 * H}
    model_spectrum(model, probe, convention="reference", k=8)                  # warm caches, imports
    ours, row["b_full_s"] = timed(lambda: model_spectrum(model, probe, convention="reference"), repeats)
    _, row["c_k64_s"] = timed(lambda: model_spectrum(model, probe, convention="reference", k=K_SMALL), repeats)
    row["d_floor_s"] = min(floor_time(H, 2 * H, T, WARMUP) for _ in range(repeats))
    row["d_floor_k64_s"] = min(floor_time(H, K_SMALL, T, WARMUP) for _ in range(repeats))
    vec, row["a_vectorized_s"] = timed(lambda: baseline_reference(model, window, WARMUP, vectorize=True))
    row["agree_a_vectorized_b"] = float((vec - ours.exponents).abs().max())
    if not skip_plain:
        plain, row["a_plain_s"] = timed(lambda: baseline_reference(model, window, WARMUP, vectorize=False))
        row["agree_a_b"] = float((plain - ours.exponents).abs().max())
        row["agree_a_b_leading_100"] = float((plain - ours.exponents)[:, :100].abs().max())
    # accuracy against float64 throughout (model and frame): how far float32 rounding moves each run
    exact = model_spectrum(copy.deepcopy(model).double(), probe, convention="reference").exponents
    row["error_b_vs_float64"] = float((ours.exponents - exact).abs().max())
    row["error_a_vectorized_vs_float64"] = float((vec - exact).abs().max())
    row["gflops_b"] = flops(H, 2 * H, T, WARMUP) / row["b_full_s"] / 1e9
    row["gflops_d"] = flops(H, 2 * H, T, WARMUP) / row["d_floor_s"] / 1e9
    row["gflops_c"] = flops(H, K_SMALL, T, WARMUP) / row["c_k64_s"] / 1e9
    row["gflops_d_k64"] = flops(H, K_SMALL, T, WARMUP) / row["d_floor_k64_s"] / 1e9
    row["lambda_max"] = float(ours.mean[0])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/results/lyapunov.json")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the issue's setting: 2)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of (b), (c), (d); the best is kept")
    parser.add_argument("--skip-plain", action="store_true",
                        help="skip (a), the one-backward-per-output baseline (minutes at 2x650)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]

    rows = []
    for name in args.sizes:
        row = run_size(name, SIZES[name], args.skip_plain, args.repeats)
        rows.append(row)
        print(json.dumps(row), flush=True)

    print(f"\n{'size':>6} {'(a) s':>8} {'(a`) s':>8} {'(b) s':>7} {'(c) s':>7} {'(d) s':>7} {'a/b':>6} "
          f"{'a`/b':>6} {'b/d':>5} {'a/c':>6} {'a`/c':>6} {'|a-b|':>8} {'b err':>8} {'GF/s b':>7} {'GF/s d':>7}")
    for r in rows:
        a = r.get("a_plain_s", float("nan"))
        print(f"{r['size']:>6} {a:8.1f} {r['a_vectorized_s']:8.2f} {r['b_full_s']:7.2f} {r['c_k64_s']:7.3f} "
              f"{r['d_floor_s']:7.2f} {a / r['b_full_s']:6.1f} {r['a_vectorized_s'] / r['b_full_s']:6.1f} "
              f"{r['b_full_s'] / r['d_floor_s']:5.2f} {a / r['c_k64_s']:6.0f} "
              f"{r['a_vectorized_s'] / r['c_k64_s']:6.0f} {r.get('agree_a_b', r['agree_a_vectorized_b']):8.1e} "
              f"{r['error_b_vs_float64']:8.1e} {r['gflops_b']:7.1f} {r['gflops_d']:7.1f}")
    print("(a) plain autograd Jacobian  (a`) vectorized  (b) ours, full  (c) ours, k=64  (d) floor of (b); "
          "|a-b| max over all exponents; b err: (b) against float64 throughout")

    record = {
        "benchmark": "lyapunov", "rows": rows,
        "setup": {"vocab": VOCAB, "batch": B, "T": T, "warmup": WARMUP, "k_small": K_SMALL,
                  "convention": "reference", "dtype": "float32", "threads": torch.get_num_threads(),
                  "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "torch": torch.__version__,
                    "load_average_1m_before": load_before, "load_average_1m_after": os.getloadavg()[0]},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
