"""Where a named corpus lives: --data-dir, then $HYPERPRUNE_DATA, then the user cache, then download.

An explicit --data-dir (data.data_dir) must hold the corpus: a typo there is an error, never a
silent fall-back to another copy. Without one, the first location holding every file wins. Downloads go to the user cache, which is
`$XDG_CACHE_HOME/hyperprune` (default `~/.cache/hyperprune`) and also holds the token-id cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from hyperprune.data.download import DownloadFailed, fetch
from hyperprune.data.sources import NamedCorpus
from hyperprune.errors import UserError

DATA_ENV = "HYPERPRUNE_DATA"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "hyperprune"


def locate_corpus(corpus: NamedCorpus, data_dir: str | None = None) -> Path:
    """The folder that holds every file of `corpus`, downloading into the cache if none does."""
    names = [f.name for f in corpus.files]
    if data_dir:
        return _given_folder(corpus, Path(data_dir).expanduser(), names)
    roots = []
    if os.environ.get(DATA_ENV):
        roots.append((Path(os.environ[DATA_ENV]).expanduser(), f"${DATA_ENV}"))
    cache = cache_root()
    roots.append((cache, "user cache"))

    for root, label in roots:
        folder = root / corpus.folder
        present = [name for name in names if (folder / name).is_file()]
        if len(present) == len(names):
            return folder
        # A half-filled folder the user pointed at is a mistake worth naming; in the cache it is an
        # interrupted download that the step below completes.
        if present and root != cache:
            raise _incomplete(corpus, folder, label, [n for n in names if n not in present])

    folder = cache / corpus.folder
    try:
        for source in corpus.files:
            if not (folder / source.name).is_file():
                fetch(source.url, folder / source.name, source.sha256)
    except DownloadFailed as exc:
        looked = ", ".join(f"'{root / corpus.folder}' ({label})" for root, label in roots)
        raise UserError(
            f"dataset '{corpus.name}' not found: looked in {looked}, and {exc}; put {', '.join(names)} "
            f"in DIR/{corpus.folder}/ and pass --data-dir DIR or set {DATA_ENV}=DIR"
        ) from None
    return folder


def _given_folder(corpus: NamedCorpus, root: Path, names: list[str]) -> Path:
    """DIR/<corpus folder> of an explicit --data-dir DIR, or a one-line UserError saying what is missing."""
    hint = f"put {', '.join(names)} in DIR/{corpus.folder}/, or leave out --data-dir to use ${DATA_ENV}, " \
           f"the user cache or a download"
    if not root.is_dir():
        raise UserError(f"--data-dir '{root}' does not exist (dataset '{corpus.name}'); {hint}")
    folder = root / corpus.folder
    missing = [name for name in names if not (folder / name).is_file()]
    if len(missing) == len(names):
        raise UserError(f"--data-dir '{root}' holds no dataset '{corpus.name}' (no {', '.join(names)} in "
                        f"'{folder}'); {hint}")
    if missing:
        raise _incomplete(corpus, folder, "--data-dir", missing)
    return folder


def _incomplete(corpus: NamedCorpus, folder: Path, label: str, missing: list[str]) -> UserError:
    return UserError(f"dataset '{corpus.name}' in '{folder}' ({label}) is incomplete: missing "
                     f"{', '.join(missing)}; it needs {', '.join(f.name for f in corpus.files)}")
