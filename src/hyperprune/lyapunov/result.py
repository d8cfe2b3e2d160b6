"""The result of a spectrum computation: the exponents and every setting that produced them.

As in davidclark1/rnn-lyapunov, a number without its settings is not reproducible: k, the number of
measured steps, both warm-ups, the QR interval, the log base, the convention, the frame dtype, the
tangent method and the probe all travel with the exponents, in memory and in JSON.

Non-finite exponents are never hidden: `mean` is the plain mean over sequences, so one -inf or NaN
sequence makes that exponent's mean -inf or NaN; `finite` marks them per sequence and `issues` says
in words which sequences and exponents are affected.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

SETTINGS = ("convention", "n", "k", "steps", "warmup", "tangent_warmup", "qr_every", "log_base",
            "transposed", "refeed", "kept", "init", "seed", "frame_dtype", "state_dtype", "method",
            "batch_size", "seconds")


def _encode(x: float) -> float | str:
    """JSON has no inf or NaN: write them as strings, read back by `_decode`."""
    return x if math.isfinite(x) else str(x)  # 'inf', '-inf', 'nan'


def _decode(x: float | str) -> float:
    return float(x)


@dataclass
class LyapunovSpectrum:
    """Lyapunov exponents of B sequences, in QR order (which converges to descending order).

    exponents: (B, k) float64, in units of log_base per step.
    """

    exponents: Tensor
    convention: str = "custom"       # "standard", "reference", or "custom" (the functional core)
    n: int = 0                       # dimension of the tangent space (the kept state)
    k: int = 0                       # exponents computed: the leading k of n
    steps: int = 0                   # measured steps T: exponent = (sum of log R_ii) / T
    warmup: int = 0                  # steps that advanced the state only
    tangent_warmup: int = 0          # steps that evolved the frame without accumulating
    qr_every: int = 1                # Jacobians multiplied between two QR factorisations
    log_base: float = math.e
    transposed: bool = False         # frame multiplied by J^T instead of J (the paper's code)
    refeed: bool = False             # measured steps re-read the inputs from the first one
    kept: list[str] = field(default_factory=list)   # which state tensors span the tangent space
    init: str = "random"             # initial frame: "random" (seeded orthonormal) or "identity"
    seed: int = 0
    frame_dtype: str = "float64"
    state_dtype: str = "float64"
    method: str = "autograd"         # how tangents moved: "autograd" or "analytic"
    batch_size: int = 0
    seconds: float = 0.0
    probe: dict | None = None        # Probe.to_dict() when the inputs came from a probe
    model: dict | None = None        # a description of the network, for model_spectrum results
    issues: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.exponents = torch.as_tensor(self.exponents, dtype=torch.float64).cpu()
        if self.exponents.dim() != 2:
            raise ValueError(f"exponents must be (B, k), got shape {tuple(self.exponents.shape)}")
        self.batch_size = self.exponents.shape[0]
        self.k = self.exponents.shape[1]

    # --- statistics over sequences (never NaN-skipping: a bad sequence shows in the mean) --------

    @property
    def mean(self) -> Tensor:
        """(k,) mean over sequences; -inf / NaN in any sequence propagate."""
        return self.exponents.mean(dim=0)

    @property
    def std(self) -> Tensor:
        """(k,) population standard deviation over the B sequences (0 for B = 1)."""
        return self.exponents.std(dim=0, correction=0)

    @property
    def finite(self) -> Tensor:
        """(B, k) bool: which exponents are finite numbers."""
        return torch.isfinite(self.exponents)

    @property
    def all_finite(self) -> bool:
        return bool(self.finite.all())

    # --- largest first (for people) --------------------------------------------------------------
    # QR order is the order of the initial frame's columns. From a random frame it converges to
    # descending order; from the reference convention's identity frame it is unit order (layer 0's
    # units first), so "#1" is not the largest exponent. Distances that follow the paper (its L2 on
    # the unsorted vectors) read `mean`; anything shown, or called "leading", reads these.

    @property
    def order(self) -> Tensor:
        """(k,) indices of the exponents by mean, largest first (NaN last; ties keep QR order)."""
        key = torch.where(torch.isnan(self.mean), torch.tensor(-math.inf, dtype=torch.float64), self.mean)
        return torch.sort(key, descending=True, stable=True).indices

    @property
    def sorted_mean(self) -> Tensor:
        """(k,) mean exponents, largest first."""
        return self.mean[self.order]

    @property
    def is_descending(self) -> bool:
        """Whether QR order already is largest-first (up to ties)."""
        return bool(torch.equal(self.order, torch.arange(self.k)))

    # --- plain data ------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SETTINGS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: lists of floats (inf / NaN as strings) and plain settings."""
        def floats(t: Tensor) -> list:
            return [_encode(float(v)) for v in t.tolist()]

        return {
            "exponents": [floats(row) for row in self.exponents],
            "mean": floats(self.mean),
            "std": floats(self.std),
            "finite": self.finite.tolist(),
            "settings": self.settings(),
            "probe": self.probe,
            "model": self.model,
            "issues": list(self.issues),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LyapunovSpectrum:
        exponents = torch.tensor([[_decode(v) for v in row] for row in data["exponents"]], dtype=torch.float64)
        settings = dict(data.get("settings", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {key: value for key, value in settings.items() if key in known}
        return cls(exponents=exponents, probe=data.get("probe"), model=data.get("model"),
                   issues=list(data.get("issues", [])), **kwargs)


def describe_nonfinite(exponents: Tensor) -> list[str]:
    """One line per sequence with -inf, +inf or NaN exponents: which ones, and what that means."""
    lines = []
    for b, row in enumerate(exponents):
        bad = []
        for label, mask, meaning in (
            ("-inf", torch.isneginf(row), "a direction collapsed exactly (R_ii = 0: a singular Jacobian)"),
            ("+inf", torch.isposinf(row), "the frame overflowed"),
            ("NaN", torch.isnan(row), "the state or frame became NaN"),
        ):
            idx = torch.nonzero(mask).flatten().tolist()
            if idx:
                shown = ", ".join(str(i + 1) for i in idx[:8]) + (", ..." if len(idx) > 8 else "")
                bad.append(f"{len(idx)} exponent(s) {label} (#{shown}): {meaning}")
        if bad:
            lines.append(f"sequence {b}: " + "; ".join(bad))
    return lines
