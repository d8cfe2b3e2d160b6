"""What a training run's RUN_DIR/log.jsonl holds: one JSON object per trained epoch, for plotting
with anything (the file itself is written and read by `hyperprune.run_files`).

Rewritten whole from the trainer's history after every epoch (a few hundred short lines at most),
so a resumed run, or one that fell back to an earlier checkpoint, never holds an epoch twice.
Keys: epoch, train_loss, train_ppl, valid_loss, valid_ppl (losses in
nats per token), lr, averaged, wall_s, tokens_per_s, mask_update_s; non-finite numbers are null.

`--tensorboard DIR` mirrors it as TensorBoard scalars (`train/tensorboard.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from hyperprune.perplexity import perplexity
from hyperprune.run_files import write_log
from hyperprune.strict_json import finite_or_null


def epoch_entry(record) -> dict[str, Any]:
    entry = dict(vars(record))
    entry["train_ppl"] = perplexity(record.train_loss)
    entry["valid_ppl"] = record.valid_ppl
    return finite_or_null(entry)


def write_epoch_log(run_dir: Path, history: Iterable) -> Path:
    return write_log(run_dir, (epoch_entry(r) for r in history))
