"""What a search ran on, for RUN_DIR/context.json (the file: `hyperprune.run_files`), the report's
header and the banner: the corpus as read (tokens), the dense model (parameters), the masked
tensors, the plan, the spectrum's unit, seed, device, threads and the hyperprune version.
"""

from __future__ import annotations

import math
from typing import Any

from hyperprune import __version__
from hyperprune.lyapunov.conventions import CONVENTIONS
from hyperprune.lyapunov.display import exponent_unit
from hyperprune.models import build_model
from hyperprune.search.probe import probe_sequences
from hyperprune.sparse import resolve_sparse_config
from hyperprune.train.banner import data_line, model_line, sparsity_line


def later_sequences(cfg, strategy) -> int | None:
    """Probe windows of the scores after e0, where a search has such scores and they differ; else None."""
    later = [probe_sequences(cfg, e) for e in strategy.compared_epochs() if e > cfg.search.first_epoch]
    return later[0] if later and later[0] != cfg.lyapunov.sequences else None


def search_context(cfg, bench, threads: int) -> dict[str, Any]:
    """What the search ran on, for the report's header and for people. Written to
    RUN_DIR/context.json when a search starts, with `train.provenance`'s record beside it."""
    s, ref, corpus, strategy = cfg.search, bench.reference.config, bench.corpus, bench.strategy
    model = build_model(ref.model, len(corpus.vocab))
    sparse = resolve_sparse_config(cfg.sparse)
    masked = {name: list(p.shape) for name, (group, p) in model.sparsifiable().items() if group in sparse.masked}
    m = ref.model
    return {
        "hyperprune_version": __version__,
        "data": {"name": corpus.name, "level": corpus.level, "train_tokens": int(corpus.train.numel()),
                 "valid_tokens": int(corpus.valid.numel()), "test_tokens": int(corpus.test.numel()),
                 "vocab_size": len(corpus.vocab), "line": data_line(cfg.data, corpus)},
        "model": {"family": m.family, "preset": m.preset, "num_layers": m.num_layers, "hidden_size": m.hidden_size,
                  "emb_size": m.emb_size, "parameters": sum(p.numel() for p in model.parameters()),
                  "line": model_line(m, sum(p.numel() for p in model.parameters()))},
        "sparsity": {"sparsity": sparse.sparsity, "masked_groups": list(sparse.masked), "masked_tensors": masked,
                     "masked_total": sum(math.prod(shape) for shape in masked.values()),
                     "line": sparsity_line(sparse, None)},
        "search": {"strategy": s.strategy, "metric": s.metric, "sampler": s.sampler, "n_candidates": s.n_candidates,
                   "first_epoch": s.first_epoch, "epochs_per_round": s.epochs_per_round, "keep": s.keep,
                   "finalists": s.finalists, "final_epochs": cfg.final_epochs, "varied": [d.key for d in bench.space.dimensions],
                   "planned_rounds": strategy.planned_rounds(), **strategy.planned_cost()},
        "lyapunov": {"convention": cfg.lyapunov.convention, "k": cfg.lyapunov.k,
                     "unit": exponent_unit(CONVENTIONS[cfg.lyapunov.convention].log_base),
                     "sequences": cfg.lyapunov.sequences, "later_sequences": later_sequences(cfg, strategy),
                     "length": cfg.lyapunov.length,
                     "distance": cfg.lyapunov.distance},
        "seed": cfg.seed,
        "device": str(bench.device),
        "threads": threads,
    }
