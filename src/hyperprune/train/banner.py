"""The start-up banner of a training run: what is about to be trained, where, and from where.

A researcher glancing at a log should see, before the first epoch, the data (tokens), the model
(family, sizes, parameters), the sparsity and which tensors carry masks, the epochs, the device and
threads, the run directory, and whether this is a fresh start or a resume. The search banner
(`hyperprune.search.banner`) reuses the data, model and sparsity lines.
"""

from __future__ import annotations

import torch

from hyperprune import __version__
from hyperprune.sparse import sparsity_summary


def data_line(cfg, corpus) -> str:
    limited = [f"{key}={getattr(cfg, key):,}" for key in ("train_tokens", "valid_tokens", "test_tokens")
               if getattr(cfg, key) is not None]
    return (f"{corpus.name} ({corpus.level}-level): {corpus.train.numel():,} train / {corpus.valid.numel():,} "
            f"valid / {corpus.test.numel():,} test tokens, vocabulary {len(corpus.vocab):,}"
            + (f" (limited: {', '.join(limited)})" if limited else ""))


def model_line(cfg, n_parameters: int) -> str:
    """`cfg` is a resolved ModelConfig (presets filled in)."""
    m = cfg
    family = m.family or "?"
    sizes = f"{m.num_layers} layer{'s' if m.num_layers != 1 else ''} x {m.hidden_size} hidden"
    if m.depth is not None and family == "rhn":
        sizes += f", depth {m.depth}"
    if m.last_hidden_size is not None and m.last_hidden_size != m.hidden_size:
        sizes += f" (last {m.last_hidden_size})"
    preset = f" (preset {m.preset})" if m.preset else ""
    return f"{family}{preset}, {sizes}, embedding {m.emb_size}, {n_parameters:,} parameters"


def sparsity_line(cfg, summary: dict | None) -> str:
    """`cfg` a resolved SparseConfig; `summary` from `sparsity_summary` (None: not built yet)."""
    if not cfg.enabled:
        return "dense (no masks)"
    method = cfg.preset or f"{cfg.init} init, {cfg.death} death, {cfg.growth} growth"
    line = f"{cfg.sparsity:.0%} of the {'/'.join(cfg.masked)} weights ({method})"
    if summary is not None:
        masked = [name for name, t in summary["tensors"].items() if t["masked"]]
        line += (f"; masked: {', '.join(masked)} ({summary['masked_nonzero']:,} of "
                 f"{summary['masked_total']:,} nonzero)")
    return line


def run_start(epoch: int, epochs: int) -> str:
    if epoch == 0:
        return "fresh start"
    if epoch >= epochs:
        return f"already trained: epoch {epoch} of {epochs} (nothing left to train)"
    return f"resuming: epoch {epoch} of {epochs}"


def device_line(device) -> str:
    return f"{device}, {torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}"


def format_banner(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in rows)
    return "\n".join([title, *(f"  {key:<{width}}  {value}" for key, value in rows)])


def train_banner(trainer) -> str:
    cfg, model = trainer.cfg, trainer.model
    t = cfg.train
    summary = trainer.sparse.summary() if trainer.sparse is not None else sparsity_summary(model)
    rows = [
        ("data", data_line(cfg.data, trainer.corpus)),
        ("model", model_line(cfg.model, sum(p.numel() for p in model.parameters()))),
        ("sparsity", sparsity_line(cfg.sparse, summary)),
        ("epochs", f"{t.epochs} ({t.optimizer}, lr {t.lr:g}, batch {t.batch_size}, bptt {t.bptt}; "
                   f"{trainer.steps_per_epoch:,} steps per epoch)"),
        ("device", device_line(trainer.device)),
        ("seed", str(cfg.seed)),
        ("run dir", str(trainer.run_dir)),
        ("start", run_start(trainer.epoch, t.epochs)),
    ]
    return format_banner(f"hyperprune {__version__} | train", rows)
