"""`constant`: the death rate never changes (SET)."""

from __future__ import annotations

from hyperprune.sparse.registry import register_schedule


@register_schedule("constant")
def constant(rate0: float, t: float, horizon: float, floor: float) -> float:
    return rate0
