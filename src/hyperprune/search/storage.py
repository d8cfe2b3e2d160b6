"""Opening the study storage, with clear errors, retries, and SQLite's one-process rule.

URLs: `sqlite:///PATH` (the single-process default), `postgresql://...` and `mysql://...` (Optuna's
RDB storage, for many workers, with heartbeats), `journal:///PATH` (Optuna's journal file on a shared
file system; heartbeats carry the workers' clocks, so keep them in sync).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import random
import re
import time
import warnings
from pathlib import Path
from typing import Any, Callable, TypeVar

import optuna
import sqlalchemy.exc as sa

from hyperprune.errors import UserError
from hyperprune.files import ProcessLock

T = TypeVar("T")

RDB_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql")
SQLITE_HEADER = b"SQLite format 3\x00"

# The SQLite file this process opened (one at most: SQLite storage is single-process), so that a
# write failing because it was deleted can name it; SQLAlchemy's error does not.
_sqlite_file: Path | None = None


def scheme(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0].lower()


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def sqlite_path(url: str) -> Path | None:
    if scheme(url) != "sqlite":
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def with_driver(url: str) -> str:
    """postgresql://... names no driver; SQLAlchemy 2.1 then wants psycopg 3. Use psycopg2 (the
    'postgres' extra) when that is what is installed. Likewise mysql://... wants mysqlclient, a C
    extension; use PyMySQL (the 'mysql' extra, pure Python) when only that is installed."""
    head, sep, rest = url.partition("://")
    if not sep or head not in ("postgresql", "postgres", "mysql"):
        return url
    if head == "mysql":
        if importlib.util.find_spec("MySQLdb") is None and importlib.util.find_spec("pymysql") is not None:
            return f"mysql+pymysql://{rest}"
        return url
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql+psycopg2://{rest}"
    return f"postgresql://{rest}"


@contextlib.contextmanager
def quiet_optuna():
    """Optuna at WARNING while a search or worker runs (its per-trial INFO lines would drown the
    console's), restored afterwards: a library call leaves the caller's logging as it found it.
    Also a decorator."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def open_storage(url: str, heartbeat_interval: int | None = None) -> optuna.storages.BaseStorage:
    """The Optuna storage at `url`, or a one-line UserError saying why it cannot be used."""
    kind = scheme(url)
    given, url = url, with_driver(url)
    if kind == "journal":
        path = url.split("://", 1)[1] if "://" in url else ""
        if not path:
            raise UserError(f"storage '{url}' names no file; use journal:///absolute/path/study.log")
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            backend = optuna.storages.journal.JournalFileBackend(path)
        except OSError as exc:
            raise UserError(f"cannot open journal storage '{path}': {exc.strerror}") from None
        return optuna.storages.JournalStorage(backend)
    if kind not in RDB_SCHEMES:
        raise UserError(f"storage URL '{redact(url)}' has an unknown scheme '{kind}'; allowed: sqlite:///PATH, "
                        f"postgresql://USER@HOST/DB, mysql://USER@HOST/DB, journal:///PATH")
    engine_kwargs: dict[str, Any] = {}
    heartbeat: dict[str, Any] = {}
    if kind == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create the folder of storage '{url}': {exc.strerror}") from None
            check_sqlite_file(path)
            global _sqlite_file
            _sqlite_file = path
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
        if heartbeat_interval:
            heartbeat = {"heartbeat_interval": int(heartbeat_interval), "grace_period": 2 * int(heartbeat_interval)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return retrying(lambda: optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat),
                            attempts=3)
    except ImportError:
        raise UserError(f"storage '{redact(given)}' needs a database driver that is not installed; "
                        f"pip install 'hyperprune[postgres]' for PostgreSQL, or 'hyperprune[mysql]' for MySQL") from None
    except Exception as exc:  # sqlalchemy's errors: connection refused, authentication, bad database
        if not _is_connection_error(exc) and not isinstance(exc, (ValueError, sa.ArgumentError)):
            raise
        raise UserError(f"cannot reach storage '{redact(given)}': {_first_line(_root(exc))}") from None


def check_sqlite_file(path: Path) -> None:
    """A one-line UserError when `path` exists but is not an SQLite database (SQLAlchemy's
    DatabaseError would come as a traceback); a missing or empty file is a new study."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"cannot read the SQLite storage '{path}' ({exc.strerror})") from None
    if head and head != SQLITE_HEADER:
        raise UserError(f"storage file '{path}' is not an SQLite database; point search.storage at another "
                        f"file (sqlite:///PATH), or move this one away to start a new study there")


def _sqlite_gone(exc: BaseException) -> UserError | None:
    """The one line for an SQLite file deleted (or made read-only) under a running search, whose
    every write then fails as "attempt to write a readonly database"; retrying cannot help."""
    if "readonly database" not in str(exc):
        return None
    what = f"'{_sqlite_file}'" if _sqlite_file is not None else "file"
    state = "was deleted" if _sqlite_file is not None and not _sqlite_file.exists() else "cannot be written"
    return UserError(f"the SQLite storage {what} {state} while the search ran (attempt to write a readonly "
                     f"database); it holds the search's records: restore it and run the same command again, "
                     f"or start over with another run_dir")


def _root(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_connection_error(exc: BaseException | None) -> bool:
    """A lost or refused connection, also when Optuna wrapped it (StorageInternalError from ...)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, (sa.OperationalError, sa.InterfaceError, sa.DisconnectionError, ConnectionError)):
            return True
        if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def is_database_locked(exc: BaseException) -> bool:
    return "database is locked" in str(exc)


def retrying(fn: Callable[[], T], attempts: int = 12, first_wait: float = 0.5, max_wait: float = 30.0,
             what: str = "storage") -> T:
    """Call `fn`, retrying connection errors with exponential backoff (about 5 minutes in all).

    A call whose effect reached the database before the connection dropped may run twice; every
    write the search makes is safe to repeat (duplicate jobs are dropped when claimed).
    """
    wait = first_wait
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if not _is_connection_error(exc) or attempt == attempts:
                gone = _sqlite_gone(_root(exc)) or _sqlite_gone(exc)
                if gone is not None:
                    raise gone from None
                raise
            if (gone := _sqlite_gone(_root(exc)) or _sqlite_gone(exc)) is not None:
                raise gone from None
            if is_database_locked(exc):
                raise UserError("the SQLite storage is locked by another process: SQLite takes one process "
                                "at a time; use postgresql:// (or mysql://, journal:///) for several workers") from None
            print(f"hyperprune: {what} unreachable ({_first_line(_root(exc))}); retrying in {wait:.0f} s "
                  f"({attempt}/{attempts - 1})", flush=True)
            time.sleep(wait * (1 + 0.25 * random.random()))
            wait = min(wait * 2, max_wait)
    raise AssertionError("unreachable")


def with_retries(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        return retrying(lambda: method(*args, **kwargs))
    return wrapper


class SingleProcessLock(ProcessLock):
    """SQLite storage is for one process: a second search on the same file gets a clear message.

    The lock `hyperprune.files` gives every run directory, here on `<db>.lock`; other storages take none.
    """

    def __init__(self, url: str):
        db = sqlite_path(url)
        self.db = db
        super().__init__(db.with_name(db.name + ".lock") if db is not None else Path(),
                         f"another hyperprune process is using the SQLite storage '{db}'; SQLite takes "
                         f"one process at a time: wait for it to finish, or use postgresql:// (or mysql://, "
                         f"journal:///) and 'hyperprune worker' for several workers")

    def acquire(self) -> "SingleProcessLock":
        if self.db is not None:
            super().acquire()
        return self
