"""Checkpoints that survive a crash: atomic writes, a checksum beside each, newest good one wins.

Layout in a checkpoint directory: `epoch-0003.pt` and `epoch-0003.sha256`. A checkpoint whose
checksum does not match (corrupted on disk) is skipped and the previous good one is used. A
checkpoint without its checksum (copied by hand, or from a crash between the two atomic writes) is
loaded with a warning when it unpickles to a checkpoint; it is never retrained over silently.

A checkpoint holds plain types only (dicts, lists, tuples, numbers, strings, tensors), so it loads
with `torch.load(path, weights_only=True)`, PyTorch's default since 2.6, and loading one runs no
code from the file. `save_checkpoint` refuses anything else. Checkpoints written before that held
numpy's random state as a numpy array; the reader allows exactly those numpy globals for them.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperprune.errors import UserError
from hyperprune.files import atomic_write_bytes, atomic_write_text

_NAME = re.compile(r"^epoch-(\d+)\.pt$")


class CorruptCheckpoint(UserError):
    """A checkpoint file that cannot be used: checksum mismatch, or not a checkpoint at all."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason                 # the short why, for a warning that names the file itself


def checkpoint_path(directory: Path, epoch: int) -> Path:
    return Path(directory) / f"epoch-{epoch:04d}.pt"


_PLAIN_SCALARS = (int, float, bool, str, bytes, type(None))


def check_plain(value: Any, where: str = "checkpoint") -> None:
    """Raise TypeError naming the first entry of `value` that `weights_only` loading would refuse.

    Exact types for scalars: numpy's float64 is a float subclass, but it pickles as a numpy global.
    """
    if isinstance(value, torch.Tensor) or type(value) in _PLAIN_SCALARS or isinstance(value, (torch.dtype, torch.device, torch.Size)):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) not in _PLAIN_SCALARS:
                raise TypeError(f"{where} has a key of type {type(key).__module__}.{type(key).__qualname__}")
            check_plain(item, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]")
        return
    raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which "
                    f"torch.load(weights_only=True) refuses; store plain types or tensors")


def save_checkpoint(directory: Path, epoch: int, payload: dict[str, Any], keep: int = 2) -> Path:
    """Save `payload` as the checkpoint of `epoch`; keep the newest `keep` checkpoints."""
    for key, value in payload.items():
        check_plain(value, key)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    path = checkpoint_path(directory, epoch)
    atomic_write_bytes(path, data)
    # The checksum is written last. Both writes are atomic, so a crash between them leaves a complete
    # checkpoint without its checksum, which loading accepts with a warning.
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


def _legacy_numpy_globals() -> list:
    """The numpy globals an old checkpoint's random state needs (a uint32 array), under the module
    paths numpy 1 (`numpy.core`) and numpy 2 (`numpy._core`) pickle them with."""

    core = np._core if hasattr(np, "_core") else np.core
    reconstruct = core.multiarray._reconstruct
    return [np.ndarray, np.dtype, type(np.dtype(np.uint32)),
            (reconstruct, "numpy.core.multiarray._reconstruct"),
            (reconstruct, "numpy._core.multiarray._reconstruct")]


def load_plain(data: bytes, map_location=None) -> Any:
    """`torch.load(weights_only=True)` of a checkpoint's bytes; an old checkpoint with numpy's random
    state loads with only those numpy globals allowed (pickle.UnpicklingError for anything else)."""
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "numpy" not in str(exc) or not hasattr(torch.serialization, "safe_globals"):
            raise
    with torch.serialization.safe_globals(_legacy_numpy_globals()):
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)


def _unpickle(path: Path, data: bytes, map_location) -> dict[str, Any]:
    try:
        payload = load_plain(data, map_location)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        reason = f"it does not load: {type(exc).__name__}: {str(exc)[:120]}"
        raise CorruptCheckpoint(f"'{path}' is not a hyperprune checkpoint ({reason})", reason) from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        reason = "no model and config inside"
        raise CorruptCheckpoint(f"'{path}' is not a hyperprune checkpoint ({reason})", reason)
    return payload


def read_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint, verified against its `.sha256` when there is one.

    Raises CorruptCheckpoint (a one-line UserError) for a checksum mismatch or a file that is not a
    checkpoint; warns when the checksum file is missing but the checkpoint loads.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptCheckpoint(f"cannot read checkpoint '{path}' ({exc.strerror})", exc.strerror) from None
    digest_file = path.with_suffix(".sha256")
    try:
        expected = digest_file.read_text().strip()
    except OSError:
        expected = None
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        reason = f"its sha256 does not match {digest_file.name}"
        raise CorruptCheckpoint(f"checkpoint '{path}' is corrupt or incomplete: {reason}", reason)
    payload = _unpickle(path, data, map_location)
    if expected is None:
        warnings.warn(f"checkpoint '{path}' has no {digest_file.name} checksum beside it; "
                      f"it loads, so it is used", stacklevel=2)
    return payload


def load_latest(directory: Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The newest usable checkpoint in `directory`, or None when it holds none at all.

    Corrupt ones are skipped with a warning naming the one used instead; when every checkpoint is
    corrupt this raises a one-line UserError naming them, since retraining would overwrite them.
    """
    found = list_checkpoints(directory)
    bad: list[tuple[Path, str]] = []
    for _, path in reversed(found):
        try:
            payload = read_checkpoint(path, map_location)
        except CorruptCheckpoint as exc:
            bad.append((path, exc.reason))
            continue
        for skipped, why in bad:
            warnings.warn(f"skipping corrupt or incomplete checkpoint {skipped} ({why}); using {path.name}, "
                          f"the newest good one", stacklevel=2)
        return payload
    if bad:
        names = ", ".join(p.name for p, _ in bad)
        raise UserError(f"every checkpoint in '{directory}' is corrupt ({names}); nothing was overwritten: "
                        f"restore them, or delete them to start this run again from scratch")
    return None


def load_weights(model: torch.nn.Module, state: dict[str, Any], path: str | Path) -> None:
    """`model.load_state_dict(state)`, with a size or name mismatch as one line naming the checkpoint."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        # torch lists every mismatch on its own line; the first one says what kind of mismatch it is.
        lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()] or [str(exc)]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise UserError(f"checkpoint '{path}' does not fit the model its config describes: {lines[0]}{more}") from None
