"""Distances between a candidate's spectrum and the dense network's, registered by name.

    distance("l2", candidate, dense)             ||a - b||_2                       (the LSH paper's)
    distance("l2-topk", candidate, dense, k=10)  ||top_k(a) - top_k(b)||_2, each sorted largest first
    distance("relative", candidate, dense)       ||a - b||_2 / ||b||_2
    distance("wasserstein", candidate, dense)    1-D earth mover's distance between the two sets

A spectrum is a LyapunovSpectrum (its mean over sequences), a (k,) tensor, or a (B, k) tensor
(averaged over B). Non-finite exponents are not dropped: the distance comes out inf or NaN, with a
warning that says which side has how many, so a broken spectrum can never look close.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from hyperprune.config import check_range
from hyperprune.errors import UserError
from hyperprune.lyapunov.result import LyapunovSpectrum
from hyperprune.registry import Registry

Spectrum = LyapunovSpectrum | Tensor
# Registered below, in this module: `register_distance("name")` on fn(a (k,), b (k,), **kwargs) -> float.
DISTANCES = Registry("spectrum distance")
register_distance = DISTANCES.register


def as_vector(spectrum: Spectrum) -> Tensor:
    """(k,) float64: a result's mean over sequences, or the tensor (averaged over its batch dim)."""
    if isinstance(spectrum, LyapunovSpectrum):
        return spectrum.mean
    t = torch.as_tensor(spectrum, dtype=torch.float64).cpu()
    if t.dim() == 2:
        return t.mean(dim=0)
    if t.dim() != 1:
        raise ValueError(f"a spectrum is (k,) or (B, k), got shape {tuple(t.shape)}")
    return t


def _same_length(name: str, a: Tensor, b: Tensor) -> None:
    if a.numel() != b.numel():
        raise UserError(f"distance '{name}' needs spectra of equal length, got {a.numel()} and {b.numel()}; "
                        "use 'wasserstein' or 'l2-topk' for spectra of different k")


@register_distance("l2")
def l2(a: Tensor, b: Tensor) -> float:
    _same_length("l2", a, b)
    return float(torch.linalg.vector_norm(a - b))


@register_distance("l2-topk")
def l2_topk(a: Tensor, b: Tensor, k: int = 10) -> float:
    check_range("l2-topk k", k, 1, min(a.numel(), b.numel()))
    # The leading k by value: QR order is the frame's column order (unit order from the reference
    # convention's identity frame), so a[:k] would be the first k units, not the largest exponents.
    a, b = torch.sort(a, descending=True).values, torch.sort(b, descending=True).values
    return float(torch.linalg.vector_norm(a[:k] - b[:k]))


@register_distance("relative")
def relative(a: Tensor, b: Tensor) -> float:
    _same_length("relative", a, b)
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


@register_distance("wasserstein")
def wasserstein(a: Tensor, b: Tensor) -> float:
    """W1 = integral over q in (0, 1) of |F_a^-1(q) - F_b^-1(q)|, each exponent of weight 1/size.

    Equal sizes: mean |sorted a - sorted b|. Unequal: the quantile functions are step functions,
    constant between the breakpoints i/m and j/n, so the integral is an exact finite sum.
    """
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        return float("nan") if (a.isnan().any() or b.isnan().any()) else float("inf")
    a, b = torch.sort(a).values, torch.sort(b).values
    m, n = a.numel(), b.numel()
    if m == n:
        return float((a - b).abs().mean())
    q = torch.unique(torch.cat([torch.arange(1, m + 1, dtype=torch.float64) / m,
                                torch.arange(1, n + 1, dtype=torch.float64) / n]))  # sorted breakpoints
    widths = torch.diff(q, prepend=q.new_zeros(1))
    mid = q - widths / 2                                              # one point inside each piece
    ia = torch.clamp((mid * m).long(), max=m - 1)
    ib = torch.clamp((mid * n).long(), max=n - 1)
    return float((widths * (a[ia] - b[ib]).abs()).sum())


def distance(name: str, candidate: Spectrum, dense: Spectrum, **kwargs) -> float:
    """Distance `name` from candidate to dense; an unknown name is a UserError with the closest."""
    measure = DISTANCES.get(name).fn
    a, b = as_vector(candidate), as_vector(dense)
    bad = [f"{side} has {int((~torch.isfinite(v)).sum())} non-finite exponent(s)"
           for side, v in (("candidate", a), ("dense", b)) if not torch.isfinite(v).all()]
    value = measure(a, b, **kwargs)
    if bad:
        warnings.warn(f"distance '{name}' = {value}: " + "; ".join(bad), RuntimeWarning, stacklevel=2)
    return value
