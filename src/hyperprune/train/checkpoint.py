"""Checkpoints that survive a crash: atomic writes, a checksum beside each, newest good one wins.

Layout in a checkpoint directory: `epoch-0003.pt` and `epoch-0003.sha256`. A checkpoint counts only
when its checksum file exists and matches, so a file truncated by a crash (or corrupted on disk)
is skipped and the previous good checkpoint is used instead.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

_NAME = re.compile(r"^epoch-(\d+)\.pt$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; results and checkpoints are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def writable_run_dir(path: str | Path) -> Path:
    """Create `path` if needed and prove it is writable now, before any work is done in it."""
    from hyperprune.errors import UserError

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"run directory '{path}' is not writable ({exc.strerror}); "
                        f"choose another with run_dir=PATH") from None
    return path


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def checkpoint_path(directory: Path, epoch: int) -> Path:
    return Path(directory) / f"epoch-{epoch:04d}.pt"


def save_checkpoint(directory: Path, epoch: int, payload: dict[str, Any], keep: int = 2) -> Path:
    """Save `payload` as the checkpoint of `epoch`; keep the newest `keep` checkpoints."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    path = checkpoint_path(directory, epoch)
    atomic_write_bytes(path, data)
    # The checksum is written last: a checkpoint without it is incomplete by definition.
    atomic_write_text(path.with_suffix(".sha256"), hashlib.sha256(data).hexdigest() + "\n")
    for old_epoch, old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
        old.with_suffix(".sha256").unlink(missing_ok=True)
    return path


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(epoch, path) of every checkpoint file present, oldest first (not yet verified)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def verify(path: Path) -> bytes | None:
    """The file's bytes when its checksum file matches, else None."""
    path = Path(path)
    digest_file = path.with_suffix(".sha256")
    try:
        expected = digest_file.read_text().strip()
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == expected else None


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint; a bad checksum is an error here (the caller named this file)."""
    data = verify(path)
    if data is None:
        raise ValueError(f"checkpoint '{path}' is corrupt or incomplete (checksum mismatch or missing)")
    return torch.load(io.BytesIO(data), map_location=map_location, weights_only=False)


def load_latest(directory: Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The newest checkpoint whose checksum matches; corrupt ones are skipped with a warning."""
    for epoch, path in reversed(list_checkpoints(directory)):
        data = verify(path)
        if data is None:
            warnings.warn(f"skipping corrupt or incomplete checkpoint {path}; using the previous one")
            continue
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=False)
    return None
