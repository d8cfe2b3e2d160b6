"""May this run directory be resumed with this config? Only if nothing that shaped its weights changed.

Continuing a checkpoint under another learning rate, corpus or model size would mix two
experiments in one run directory (or end in a size-mismatch traceback), so any such difference is
refused, each setting named with its old and new value. `MAY_CHANGE` is the short list of
settings that do not alter what was trained so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hyperprune.config import differences, from_dict, to_dict
from hyperprune.errors import UserError
from hyperprune.train.config import RunConfig

# More epochs extend a run; the device, the corpus's folder and the run directory's own path say
# where it runs and reads, not what it learns.
MAY_CHANGE = ("train.epochs", "device", "data.data_dir", "run_dir")


def check_resume(stored: dict[str, Any], cfg: RunConfig, run_dir: str | Path) -> None:
    """Raise a one-line UserError when `cfg` differs from the `stored` config of the checkpoint that
    `run_dir` would resume from, outside `MAY_CHANGE`."""
    try:
        # Through the dataclass, so a setting added since the checkpoint was written counts at its default.
        old = to_dict(from_dict(RunConfig, stored))
    except UserError:
        old = stored
    changed = differences(old, to_dict(cfg), MAY_CHANGE)
    if not changed:
        return
    shown = "; ".join(f"{key} {before!r} -> {after!r}" for key, before, after in changed[:6])
    more = f"; and {len(changed) - 6} more" if len(changed) > 6 else ""
    raise UserError(f"run directory '{run_dir}' holds a run trained with other settings ({shown}{more}); "
                    f"resume it with the same config (only {', '.join(MAY_CHANGE)} may change), "
                    f"or give another run_dir")
