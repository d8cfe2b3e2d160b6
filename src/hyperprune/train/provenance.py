"""How a run was made, for RUN_DIR/context.json: versions, command line, the config's git commit,
host, and when the command started and ended. `train` writes it as it is; a search adds it to its
own context (search/context.py), which the report reads. The file is written and read by
`hyperprune.run_files`.
"""

from __future__ import annotations

import datetime
import platform
import shlex
import socket
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

import torch

from hyperprune import __version__
from hyperprune.run_files import read_context, write_context


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def git_commit(path: str | Path) -> dict[str, Any] | None:
    """{"commit", "dirty"} of the git checkout holding `path` (dirty: the file differs from that
    commit, or is not in it); None outside a checkout or without git."""
    path = Path(path).resolve()
    folder = path.parent if path.is_file() else path

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        known = git("ls-files", "--error-unmatch", "--", str(path)).returncode == 0
        changed = git("diff", "--quiet", "HEAD", "--", str(path)).returncode != 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": head.stdout.strip(), "dirty": changed or not known}


def provenance(config_path: str | Path | None, now: Callable[[], str] = _now) -> dict[str, Any]:
    """What context.json records of the command that is starting (its "ended" is null until
    `record_end` fills it)."""
    return {
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "optuna": _installed("optuna"), "hyperprune": __version__},
        "command": shlex.join(sys.argv),
        "config": str(Path(config_path).resolve()) if config_path is not None else None,
        "config_git": git_commit(config_path) if config_path is not None else None,
        "host": socket.gethostname(),
        "started": now(),
        "ended": None,
    }


def record_end(run_dir: str | Path, now: Callable[[], str] = _now) -> None:
    """Set context.json's "ended": the command finished its work (an interrupted one leaves null)."""
    context = read_context(run_dir)
    if context is None:
        return
    context["ended"] = now()
    write_context(run_dir, context)
