"""What a search's RUN_DIR/log.jsonl holds: one entry per (model, epoch) trained so far, from
results.json and each model's own log.jsonl (the files: `hyperprune.run_files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from hyperprune.run_files import read_log, write_log


# What each model's own log.jsonl (train/epoch_log.py) adds to the search's log, per epoch.
TRAINING_KEYS = ("train_loss", "lr", "wall_s", "tokens_per_s")


def log_entries(results: dict[str, Any], trained: dict[tuple[str, int | None], dict[int, dict]] | None = None
                ) -> list[dict[str, Any]]:
    """One entry per (model, epoch) trained so far: the dense reference, then each candidate.
    Keys: model ("dense" or "candidate"), candidate (id or null), epoch, valid_ppl, score (the
    distance or metric at a scored epoch, else null), status (the candidate's now), and from the
    model's own epoch log (`trained`: (model, candidate) -> epoch -> entry; null where absent)
    train_loss (nats per token), lr, wall_s (the epoch's training pass) and tokens_per_s.

    `search --tensorboard DIR` mirrors it as TensorBoard scalars, one run per model
    (`train/tensorboard.py`).
    """
    trained = trained or {}

    def entry(model: str, candidate: int | None, epoch: str, ppl, score, status: str) -> dict[str, Any]:
        own = trained.get((model, candidate), {}).get(int(epoch), {})
        return {"model": model, "candidate": candidate, "epoch": int(epoch), "valid_ppl": ppl, "score": score,
                "status": status, **{key: own.get(key) for key in TRAINING_KEYS}}

    entries = []
    dense = results.get("dense") or {}
    for epoch, ppl in sorted(dense.get("valid_ppl_by_epoch", {}).items(), key=lambda kv: int(kv[0])):
        entries.append(entry("dense", None, epoch, ppl, None, "reference"))
    for c in results.get("candidates", []):
        for epoch, ppl in sorted(c.get("valid_ppl_by_epoch", {}).items(), key=lambda kv: int(kv[0])):
            entries.append(entry("candidate", c["id"], epoch, ppl, c.get("scores", {}).get(epoch), c["status"]))
    return entries


def write_search_log(run_dir: Path, results: dict[str, Any], candidate_dir: Callable[[int], Path]) -> Path:
    """Rewritten whole from results.json and each model's own log.jsonl (its dense or candidate
    directory) each time, so no line is ever doubled by a resume."""
    dense_dir = (results.get("dense") or {}).get("dir")
    dirs = {("candidate", c["id"]): candidate_dir(c["id"]) for c in results.get("candidates", [])}
    if dense_dir:
        dirs[("dense", None)] = Path(dense_dir)
    trained = {key: {e["epoch"]: e for e in read_log(folder)} for key, folder in dirs.items()}
    return write_log(run_dir, log_entries(results, trained))
