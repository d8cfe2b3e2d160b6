"""A spectrum for people: a text table (for the CLI) and a figure (PNG/PDF/SVG by the path's suffix).

Both show the exponents largest first. The engine returns them in QR order, which is the initial
frame's column order: with the reference convention's identity frame that is layer 0's units first,
not the largest exponent first (see `LyapunovSpectrum.order`).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from hyperprune.lyapunov.result import LyapunovSpectrum


def exponent_unit(log_base: float) -> str:
    """The unit of an exponent: "ln per step" (natural log), "log2 per step", "log10 per step"."""
    return "ln per step" if math.isclose(log_base, math.e) else f"log{log_base:g} per step"


def kaplan_yorke_dimension(exponents: torch.Tensor) -> float:
    """D_KY = j + (sum_{i<=j} l_i) / |l_{j+1}|, j the largest index with a non-negative partial sum.

    Kaplan & Yorke 1979; over the exponents given (a top-k spectrum gives a lower bound of j).
    """
    lam = torch.sort(exponents, descending=True).values
    if not torch.isfinite(lam).all():
        return float("nan")
    partial = torch.cumsum(lam, 0)
    nonneg = torch.nonzero(partial >= 0).flatten()
    if nonneg.numel() == 0:
        return 0.0
    j = int(nonneg[-1]) + 1
    if j == lam.numel():
        return float(j)
    return j + float(partial[j - 1]) / abs(float(lam[j]))


def spectrum_report(result: LyapunovSpectrum, rows: int = 12) -> str:
    """Settings, summary numbers and a table of the exponents (first and last rows when k is large)."""
    mean, std = result.mean, result.std
    lines = [
        f"Lyapunov spectrum: {result.convention} convention, {result.method} tangents, "
        f"{result.k} of {result.n} exponents, in {exponent_unit(result.log_base)}, largest first"
        + ("" if result.is_descending else " (column 'qr': the position in QR order, from the "
           f"{result.init} frame)"),
        f"  {result.batch_size} sequence(s) x {result.steps} measured steps; warm-up {result.warmup} (state) + "
        f"{result.tangent_warmup} (frame){', inputs re-fed' if result.refeed else ''}; QR every "
        f"{result.qr_every}; {'J^T' if result.transposed else 'J'} products; frame {result.frame_dtype}, "
        f"init {result.init}; {result.seconds:.2f} s",
        f"  state: {', '.join(result.kept) if len(result.kept) <= 8 else f'{len(result.kept)} tensors'}",
        f"  max {float(mean.max()):.6g} | sum {float(mean.sum()):.6g} | positive "
        f"{int((mean > 0).sum())} | Kaplan-Yorke dimension {kaplan_yorke_dimension(mean):.4g}",
    ]
    if result.probe:
        p = result.probe
        lines.append(f"  probe: {p.get('mode')} windows, warm-up {p.get('warmup')} + length {p.get('length')}, "
                     f"starts {p.get('starts')}, seed {p.get('seed')}, split {p.get('split_sha1')}")
    for issue in result.issues:
        lines.append(f"  WARNING {issue}")

    per_seq = result.batch_size <= 4
    show_qr = not result.is_descending
    header = f"{'#':>5}" + (f" {'qr':>5}" if show_qr else "") + f" {'mean':>12} {'std':>10}" + \
        "".join(f" {'seq ' + str(b):>12}" for b in range(result.batch_size) if per_seq)
    lines += [header, "-" * len(header)]
    shown = list(range(result.k))
    if result.k > rows:
        head = rows - rows // 3
        shown = shown[:head] + [-1] + shown[result.k - rows // 3:]
    order = result.order.tolist()
    for rank in shown:
        if rank < 0:
            lines.append(f"{'...':>5}")
            continue
        i = order[rank]
        row = f"{rank + 1:>5}" + (f" {i + 1:>5}" if show_qr else "") + f" {float(mean[i]):>12.6f} {float(std[i]):>10.6f}"
        if per_seq:
            row += "".join(f" {float(result.exponents[b, i]):>12.6f}" for b in range(result.batch_size))
        lines.append(row)
    return "\n".join(lines)


def spectrum_figure(result: LyapunovSpectrum, title: str | None = None):
    """The figure `plot_spectrum` writes: mean exponent +- std against its rank (largest first),
    each sequence (sorted on its own) faintly behind. matplotlib's object API on the Agg canvas: no
    display needed, no global backend changed."""
    # Imported here: every search loads this package, and only a plot needs matplotlib (~0.5 s).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    index = torch.arange(1, result.k + 1).numpy()
    for b in range(result.batch_size):
        ax.plot(index, torch.sort(result.exponents[b], descending=True).values.numpy(), color="0.75", lw=0.8,
                zorder=1, label="each sequence" if b == 0 else None)
    order = result.order
    mean, std = result.mean[order].numpy(), result.std[order].numpy()
    ax.fill_between(index, mean - std, mean + std, color="C0", alpha=0.25, lw=0, zorder=2)
    ax.plot(index, mean, color="C0", lw=1.5, marker="." if result.k <= 100 else None, zorder=3,
            label=f"mean over {result.batch_size} sequence(s), +- std")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel(f"exponent rank i (largest first, {result.k} of {result.n})")
    ax.set_ylabel(f"\u03bb_i ({exponent_unit(result.log_base)})")
    ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_title(title or f"Lyapunov spectrum ({result.convention}, {result.batch_size} seq x {result.steps} steps)")
    fig.tight_layout()
    return fig


def plot_spectrum(result: LyapunovSpectrum, path: str | Path, title: str | None = None) -> Path:
    """`spectrum_figure` written to `path` (PNG/PDF/SVG by its suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spectrum_figure(result, title).savefig(path)
    return path
