"""Choices of a search space that cannot differ on this model, found before any training, so that
the search warns of the tie they will make instead of leaving the reader to discover it.
"""

from __future__ import annotations

import dataclasses

from hyperprune.models import build_model
from hyperprune.sparse import SparseEngine
from hyperprune.train.trainer import resolve_run_config


def indistinguishable_choices(space, vocab_size: int) -> list[str]:
    """Warnings for `sparse.init` choices that keep the same number of entries in every masked
    tensor of this model (ER, ERK and uniform coincide when the masked tensors all have one shape;
    ER and ERK always do on matrices): such candidates differ only by name, and will tie."""
    dim = next((d for d in space.dimensions if d.key == "sparse.init"), None)
    choices = list(getattr(dim.distribution, "choices", [])) if dim is not None else []
    if len(choices) < 2:
        return []
    cfg = resolve_run_config(space.run_config({}, ""))
    if not cfg.sparse.enabled:
        return []
    model = build_model(cfg.model, vocab_size)
    groups: dict[tuple, list[str]] = {}
    for choice in choices:
        engine = SparseEngine(model, dataclasses.replace(cfg.sparse, init=choice), epochs=1, steps_per_epoch=1,
                              seed=0)
        counts = engine.initial_counts()
        groups.setdefault(tuple(sorted(counts.items())), []).append(str(choice))
    shapes = sorted({tuple(model.get_parameter(name).shape) for name in counts})
    return [f"sparse.init choices {' and '.join(names)} keep the same entries per tensor on this model "
            f"(masked shapes {', '.join('x'.join(map(str, s)) for s in shapes)}): those candidates will tie"
            for names in groups.values() if len(names) > 1]
