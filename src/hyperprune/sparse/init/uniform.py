"""`uniform`: every masked tensor gets the same density, 1 - sparsity."""

from __future__ import annotations

from hyperprune.sparse.registry import register_init


@register_init("uniform")
def uniform(shape: tuple[int, ...]) -> float:
    return 1.0
