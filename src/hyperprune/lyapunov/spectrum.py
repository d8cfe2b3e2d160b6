"""Lyapunov spectrum of a driven map by the QR method (Benettin et al. 1980; Eckmann & Ruelle 1985).

For s_t = F(s_{t-1}, x_t) with Jacobians J_t = dF/ds at (s_{t-1}, x_t):

    Q_0            orthonormal (n, k) frame
    J_t Q_{t-1}  = Q_t R_t          QR with diag(R_t) > 0
    lambda_i     = (1/T) sum_t log R_t[i, i] / log(base)

Benettin, Galgani, Giorgilli & Strelcyn 1980, Meccanica 15:9-30; Eckmann & Ruelle 1985, Rev. Mod.
Phys. 57:617, sec. III.B. With qr_every = m > 1 the frame goes through m Jacobians before one QR:
J_{t+m} ... J_{t+1} Q = Q' R, and diag(R) is exactly the product of the per-step diagonals, so the
sum of logs is unchanged in exact arithmetic (fewer QRs, more risk of overflow for large m).

Phases, in input order:
    warmup          advance the state only (the frame does not exist yet)
    tangent_warmup  evolve the frame (QR every qr_every steps) without accumulating log R
    measured        T steps that accumulate log R; with `refeed` they re-read the inputs from the
                    first one (the LSH paper's code), else they read the inputs that follow.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from hyperprune.config import check_choice, check_range, check_whole
from hyperprune.errors import UserError
from hyperprune.lyapunov.result import LyapunovSpectrum, describe_nonfinite
from hyperprune.lyapunov.tangents import AutogradTangent, Step, TangentMap

INITS = ("random", "identity")


def initial_frame(n: int, k: int, init: str = "random", seed: int = 0) -> Tensor:
    """Q_0 (n, k) float64, orthonormal columns.

    "random": the Q factor (diag R > 0) of an (n, k) Gaussian matrix drawn row by row from
    numpy's PCG64 stream, so the first k columns of the n-column frame are this frame: a top-k run
    follows exactly the leading k columns of the full run. "identity": e_1 .. e_k (the paper's code).
    A random frame avoids starting inside an invariant subspace, where the identity can stay stuck.
    """
    if init == "identity":
        return torch.eye(n, k, dtype=torch.float64)
    gaussian = np.random.default_rng(seed).standard_normal((k, n)).T  # (n, k): column j = draw j
    q, r = torch.linalg.qr(torch.from_numpy(np.ascontiguousarray(gaussian)))
    return q * torch.sign(r.diagonal()).unsqueeze(0)


def spectrum_flops(n: int, k: int, tangent_steps: int, sequences: int) -> int:
    """Floating-point operations of one spectrum, counted per tangent step and sequence: the
    Jacobian applied to the k frame vectors as a dense n x n product (2 n^2 k; the analytic
    Jacobians are structured, so this is an upper figure) and a Householder QR of the (n, k) frame
    with its Q formed (4 n k^2 - 4/3 k^3; Golub & Van Loan, sec. 5.2.2). The state's own update
    and the warm-up that moves no frame are left out."""
    per_step = 2 * n * n * k + 4 * n * k * k - (4 * k ** 3) // 3
    return per_step * tangent_steps * sequences


def qr_positive(Z: Tensor) -> tuple[Tensor, Tensor]:
    """Z (B, n, k) = Q R with diag(R) > 0: returns Q (B, n, k) and diag(R) (B, k).

    A zero diagonal entry stays zero (log 0 = -inf is reported, not hidden).
    """
    Q, R = torch.linalg.qr(Z)                     # (B, n, k), (B, k, k)
    d = R.diagonal(dim1=-2, dim2=-1)              # (B, k)
    sign = torch.where(d < 0, -1.0, 1.0).to(Q.dtype)
    Q.mul_(sign.unsqueeze(1))                     # flip columns: the same as R's rows -> |diag|
    return Q, d.abs()


def lyapunov_spectrum(
    step: Step | None,
    state: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    *,
    k: int | None = None,
    warmup: int = 0,
    tangent_warmup: int = 0,
    qr_every: int = 1,
    log_base: float = math.e,
    frame_dtype: torch.dtype | None = None,
    tangent: TangentMap | None = None,
    keep: Sequence[int] | None = None,
    transpose: bool = False,
    refeed: bool = False,
    init: str = "random",
    seed: int = 0,
    convention: str = "custom",
    kept_names: Sequence[str] | None = None,
    probe: dict | None = None,
    model: dict | None = None,
) -> LyapunovSpectrum:
    """The leading k Lyapunov exponents of `step`, driven by `inputs`, for each of B sequences.

    step: (x_t, state) -> state, batched over B; state a (B, n) tensor or a tuple of (B, n_i).
    inputs: (T_in, B, ...) or a sequence of T_in per-step inputs.
    keep, transpose: for the default tangent, AutogradTangent(step, keep, transpose): which state
        tensors span the tangent space (the others are held fixed), and J^T instead of J.
    tangent: how frames move, instead (e.g. AnalyticTangent(model)); then step may be None.
    Returns exponents (B, k) in units of log_base per step, with every setting recorded.

    >>> import torch
    >>> W = torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64))
    >>> s0 = torch.zeros(1, 2, dtype=torch.float64)
    >>> u = torch.zeros(20, 1, 2, dtype=torch.float64)
    >>> r = lyapunov_spectrum(lambda x, s: s @ W.T + x, s0, u, log_base=2, init="identity")
    >>> [round(v, 6) for v in r.mean.tolist()]
    [1.0, -1.0]
    """
    start_time = time.perf_counter()
    single = isinstance(state, Tensor)
    state = (state,) if single else tuple(state)
    if tangent is None:
        if step is None:
            raise ValueError("lyapunov_spectrum needs a step function or a tangent map")
        tangent = AutogradTangent((lambda x, s: (step(x, s[0]),)) if single else step, keep, transpose)
    elif keep is not None or transpose:
        raise ValueError("keep and transpose describe the default tangent; set them on the tangent map given")

    # ---- settings ------------------------------------------------------------------------------
    n_inputs = len(inputs)
    check_range("warmup", warmup, 0)
    check_range("tangent_warmup", tangent_warmup, 0)
    check_range("qr_every", qr_every, 1)
    check_range("log_base", log_base, 1.0, low_open=True)
    check_choice("frame init", init, INITS)
    first_measured = 0 if refeed else warmup + tangent_warmup
    steps = n_inputs - first_measured
    if warmup + tangent_warmup > n_inputs or steps < 1:
        raise UserError(f"{n_inputs} inputs leave {steps} measured steps after warmup={warmup} and "
                        f"tangent_warmup={tangent_warmup}; allowed: at least 1 measured step")
    n = tangent.dim(state)
    k = n if k is None else check_whole("k (number of exponents)", k, f"1 to {n}, or None for all")
    check_range("k (number of exponents)", k, 1, n)
    batch = state[0].shape[0]
    frame_dtype = frame_dtype or state[0].dtype
    device = state[0].device

    # ---- 1. state warm-up: the frame does not exist yet ------------------------------------------
    for t in range(warmup):
        state = tangent.advance(inputs[t], state)

    # ---- 2. the frame, the same for every sequence (so results do not depend on batch order) -----
    Q = initial_frame(n, k, init, seed).to(device=device, dtype=frame_dtype)
    Q = Q.unsqueeze(0).expand(batch, n, k).contiguous()  # (B, n, k)

    # ---- 3. tangent warm-up: align the frame with the dynamics, discard R ------------------------
    for j, t in enumerate(range(warmup, warmup + tangent_warmup)):
        state, push = tangent.linearize(inputs[t], state)
        Q = push(Q)                                                     # (B, n, k)
        if (j + 1) % qr_every == 0 or j == tangent_warmup - 1:
            Q, _ = qr_positive(Q)

    # ---- 4. measured steps: accumulate log R_ii (in float64 whatever the frame dtype) -----------
    log_growth = torch.zeros(batch, k, dtype=torch.float64, device=device)  # (B, k)
    for j, t in enumerate(range(first_measured, n_inputs)):
        state, push = tangent.linearize(inputs[t], state)
        Q = push(Q)                                                     # (B, n, k)
        if (j + 1) % qr_every == 0 or j == steps - 1:
            Q, r = qr_positive(Q)                                       # r = diag(R) >= 0, (B, k)
            log_growth += r.to(torch.float64).log()

    exponents = (log_growth / (steps * math.log(log_base))).cpu()      # (B, k)

    issues = describe_nonfinite(exponents)
    for line in issues:
        warnings.warn(f"Lyapunov spectrum: {line}", RuntimeWarning, stacklevel=2)
    kept = tangent.kept(state)
    return LyapunovSpectrum(
        exponents=exponents, convention=convention, n=n, k=k, steps=steps, warmup=warmup,
        tangent_warmup=tangent_warmup, qr_every=qr_every, log_base=float(log_base),
        transposed=tangent.transposed, refeed=bool(refeed),
        kept=list(kept_names) if kept_names is not None else [f"state[{i}]" for i in kept],
        init=init, seed=seed, frame_dtype=str(frame_dtype).replace("torch.", ""),
        state_dtype=str(state[0].dtype).replace("torch.", ""), method=tangent.name,
        batch_size=batch, seconds=time.perf_counter() - start_time, probe=probe, model=model,
        issues=issues,
    )
