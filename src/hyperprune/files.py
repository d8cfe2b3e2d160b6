"""Files on disk that survive a crash and a second process: atomic writes, run directories, locks.

Bottom layer: every package that writes results (checkpoints, token caches, downloads, summaries,
search results) uses these, so "written completely or not at all" and "one process per run
directory" are each implemented once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from hyperprune.errors import UserError

LOCK_NAME = ".hyperprune.lock"


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary handle on a temporary file beside `path`, renamed over `path` only when the block
    ends without an exception; otherwise the temporary file is removed and `path` is untouched.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> with atomic_file(target) as out:
    ...     _ = out.write(b"abc")
    >>> target.read_bytes()
    b'abc'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; results and checkpoints are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        # After os.replace the name is gone; after a failure this removes the partial file.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` completely or not at all (temp file, fsync, rename)."""
    with atomic_file(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def check_run_dir(path: str | Path) -> Path:
    """`path` as a run directory that exists or can be created: a one-line UserError when it, or a
    folder above it, is a file (mkdir would only say "File exists"). Reads, never writes: dry runs
    call it too."""
    path = Path(path)
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                what = "is a file" if place == path else f"is inside '{place}', which is a file"
                raise UserError(f"run directory '{path}' {what}; choose a folder with run_dir=PATH")
            break
    return path


def writable_run_dir(path: str | Path) -> Path:
    """Create `path` if needed and prove it is writable now, before any work is done in it."""
    path = check_run_dir(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"run directory '{path}' is not writable ({exc.strerror}); "
                        f"choose another with run_dir=PATH") from None
    return path


def writable_output(path: str | Path, option: str) -> Path:
    """`path` for an output file named by `option`, once its folder is known to exist and be writable:
    checked before the work, so a typo costs nothing and leaves no traceback."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise UserError(f"{option} '{path}' is a directory; give a file name")
    if not folder.is_dir():
        raise UserError(f"{option} '{path}': folder '{folder}' does not exist; create it or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{option} '{path}': folder '{folder}' is not writable; choose another path")
    return path


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # it exists, owned by another user
        return True
    return True


class ProcessLock:
    """An exclusive advisory lock on `path`, held by one process at a time.

    The kernel releases it when the holder exits, even by SIGKILL, so a crashed run never leaves a
    stale lock behind. A second process gets `busy_message` as a one-line UserError. The holder's
    pid is written into the file for a person looking at it, and the file is removed on release,
    so a finished command leaves the directory as it found it.
    """

    def __init__(self, path: str | Path, busy_message: str):
        self.path = Path(path)
        self.busy_message = busy_message
        self._handle = None

    def acquire(self) -> "ProcessLock":
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = open(self.path, "a+")
            except OSError as exc:
                raise UserError(f"cannot create '{self.path}': {exc.strerror}; choose a writable run_dir") from None
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise UserError(self.busy_message) from None
            # The holder before us may have removed the file between our open and our flock: then we
            # hold a lock on a file nobody else can see, so start again on the current one.
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(handle.fileno()).st_ino:
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            # Unlink while still holding the lock: a waiter that opened the old file sees it is gone.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "ProcessLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def run_dir_lock(run_dir: str | Path, command: str) -> ProcessLock:
    """The lock every command that writes into `run_dir` takes (train, search, ...)."""
    run_dir = Path(run_dir)
    return ProcessLock(run_dir / LOCK_NAME,
                       f"another hyperprune process is writing to run directory '{run_dir}' "
                       f"(lock {LOCK_NAME}); wait for it to finish, or give '{command}' another run_dir")
