"""Token ids on disk, so a second load of the same text skips tokenising (the slow part).

An entry is keyed by the sha256 of every source file plus the level, the split rule and
`FORMAT_VERSION`: any change to the text or to how it is tokenised gives a new key, so a stale
entry is never read. Bump `FORMAT_VERSION` whenever tokenisation or the stored layout changes.
Entries are written atomically; an unreadable entry counts as a miss and is rewritten.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from hyperprune.data.location import cache_root
from hyperprune.data.vocabulary import Vocabulary
from hyperprune.files import atomic_file

FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")


def token_cache_dir() -> Path:
    return cache_root() / "tokens"


def entry_path(name: str, level: str, file_sha256s: list[str], split_rule: str,
               directory: Path | None = None) -> Path:
    key = hashlib.sha256(
        "|".join([f"v{FORMAT_VERSION}", level, split_rule, *file_sha256s]).encode()
    ).hexdigest()
    # The readable prefix only helps a person clearing the cache; the hash is what identifies.
    return (directory or token_cache_dir()) / f"{name}-{level}-{key[:32]}.pt"


def read_entry(path: Path) -> tuple[Vocabulary, dict[str, torch.Tensor]] | None:
    """(vocab, ids per split), or None when there is no usable entry."""
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
        if entry.get("format") != FORMAT_VERSION:
            return None
        return Vocabulary(list(entry["itos"])), {split: entry[split] for split in SPLITS}
    except Exception:  # missing, truncated or foreign file: re-tokenise rather than fail a run
        return None


def write_entry(path: Path, vocab: Vocabulary, ids: dict[str, torch.Tensor]) -> None:
    """Best effort: a read-only or full disk costs speed next time, never the run."""
    try:
        with atomic_file(path) as out:
            torch.save({"format": FORMAT_VERSION, "itos": vocab.itos, **ids}, out)
    except OSError:
        pass
