"""Perplexity from a mean cross-entropy: the one conversion every layer and the CLI use.

A diverged model can have a loss beyond exp's float range (about 709.8 nats/token), where
`math.exp` raises OverflowError; clamping instead prints a 300-digit number that looks measured.
Perplexity is then `inf`, said once as a warning where a label is given.
"""

from __future__ import annotations

import math
import warnings


def perplexity(loss: float, what: str | None = None) -> float:
    """exp(`loss`) for a mean cross-entropy in nats/token; `inf` when that overflows a float.

    `what` names the quantity (e.g. "valid") for the warning an overflow gives; without it the
    overflow is silent (for callers that check `math.isfinite` themselves).

    >>> round(perplexity(math.log(120.0)), 6)
    120.0
    >>> perplexity(800.0)
    inf
    """
    try:
        return math.exp(loss)
    except OverflowError:
        if what is not None:
            warnings.warn(f"{what} perplexity overflows (mean loss {loss:.4g} nats/token), shown as inf: "
                          f"the model has diverged; lower train.lr or set train.clip", RuntimeWarning,
                          stacklevel=2)
        return math.inf
