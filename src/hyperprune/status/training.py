"""`hyperprune status RUN_DIR` for a training run: epochs done, best so far, running or not, ETA.

Read-only: it reads config.yaml, log.jsonl and summary.json, and probes the run directory's lock
(a shared, non-blocking flock: it fails while a `train` process holds the lock) without taking it.
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import Any

import yaml

from hyperprune.files import LOCK_NAME
from hyperprune.run_files import LOG_NAME, read_log, read_summary
from hyperprune.train.progress import clock


def lock_state(run_dir: Path) -> tuple[int | None, int | None]:
    """(pid of the hyperprune process writing into `run_dir` now, pid of one that died holding it).

    A process stopped cleanly removes its lock file; one killed (kill -9) leaves it, with its pid,
    and the kernel has released its flock: that pid is reported as gone.
    """
    path = Path(run_dir) / LOCK_NAME
    try:
        handle = open(path)
    except OSError:
        return None, None
    with handle:
        text = handle.read().strip()
        pid = int(text) if text.isdigit() else None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return (pid if pid is not None else -1), None
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None, pid


def gone_words(pids: list[int]) -> str:
    """' (process N is gone)' for processes that died while working on a run; '' for none."""
    if not pids:
        return ""
    listed = ", ".join(map(str, pids))
    return f" (process{'es' if len(pids) > 1 else ''} {listed} {'are' if len(pids) > 1 else 'is'} gone)"


def train_status(run_dir: Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    config = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").is_file() else {}
    epochs = (config.get("train") or {}).get("epochs")
    log = read_log(run_dir)
    summary = read_summary(run_dir)
    done = log[-1]["epoch"] if log else 0
    pid, gone = lock_state(run_dir)
    valid = [e for e in log if e.get("valid_ppl") is not None]
    best = min(valid, key=lambda e: e["valid_ppl"], default=None)
    finished = summary is not None and epochs is not None and summary.get("epochs", 0) >= epochs
    seconds = [e["wall_s"] for e in log if e.get("wall_s") is not None]
    per_epoch = sum(seconds) / len(seconds) if seconds else None
    left = max((epochs or 0) - done, 0)
    updated = (run_dir / LOG_NAME).stat().st_mtime if (run_dir / LOG_NAME).exists() else None
    return {
        "kind": "train",
        "run_dir": str(run_dir),
        "state": "running" if pid is not None else ("complete" if finished else "stopped"),
        "pid": pid,
        "gone": [gone] if gone is not None and pid is None and not finished else [],
        "epochs_done": done,
        "epochs": epochs,
        "last": log[-1] if log else None,
        "best": {"epoch": best["epoch"], "valid_ppl": best["valid_ppl"]} if best else None,
        "test_ppl": summary.get("test_ppl") if summary else None,
        "epoch_s": per_epoch,
        "eta_s": 0.0 if finished else (left * per_epoch if per_epoch is not None else None),
        "updated_s_ago": time.time() - updated if updated is not None else None,
    }


def describe_train_status(s: dict[str, Any]) -> str:
    lines = [f"train run {s['run_dir']}: {s['state']}" + (f" (pid {s['pid']})" if s["pid"] else "")
             + gone_words(s["gone"])]
    lines.append(f"  done     {s['epochs_done']} of {s['epochs'] if s['epochs'] is not None else '?'} epochs"
                 + (f", last update {clock(s['updated_s_ago'])} ago" if s["updated_s_ago"] is not None else ""))
    if s["last"] is not None:
        last = s["last"]
        lines.append(f"  last     epoch {last['epoch']}: valid ppl {last['valid_ppl']:.2f}, lr {last['lr']:.4g}, "
                     f"{last['tokens_per_s']:.0f} tok/s")
    if s["best"] is not None:
        lines.append(f"  best     valid ppl {s['best']['valid_ppl']:.2f} at epoch {s['best']['epoch']}"
                     + (f"; test ppl {s['test_ppl']:.2f}" if s["test_ppl"] is not None else ""))
    if s["eta_s"] is not None:
        lines.append(f"  ETA      {clock(s['eta_s'])}" + (f" ({clock(s['epoch_s'])} per epoch)" if s["epoch_s"] else ""))
    return "\n".join(lines)
