"""RUN_DIR/log.jsonl: one JSON object per trained epoch, for plotting with anything.

Rewritten whole from the trainer's history after every epoch (a few hundred short lines at most),
so a resumed run, or one that fell back to an earlier checkpoint, never holds an epoch twice.
Keys: epoch, train_loss, train_ppl, valid_loss, valid_ppl (losses in
nats per token), lr, averaged, wall_s, tokens_per_s, mask_update_s; non-finite numbers are null.

`--tensorboard DIR` mirrors it as TensorBoard scalars (`train/tensorboard.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from hyperprune.files import atomic_write_text
from hyperprune.perplexity import perplexity
from hyperprune.strict_json import finite_or_null

LOG_NAME = "log.jsonl"


def epoch_entry(record) -> dict[str, Any]:
    entry = dict(vars(record))
    entry["train_ppl"] = perplexity(record.train_loss)
    entry["valid_ppl"] = record.valid_ppl
    return finite_or_null(entry)


def write_epoch_log(run_dir: Path, history: Iterable) -> Path:
    path = Path(run_dir) / LOG_NAME
    atomic_write_text(path, "".join(json.dumps(epoch_entry(r)) + "\n" for r in history))
    return path


def read_epoch_log(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
