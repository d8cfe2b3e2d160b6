"""Which corpus to read, and how much of it."""

from __future__ import annotations

from dataclasses import dataclass

from hyperprune.config import check_choice, check_range


@dataclass
class DataConfig:
    name: str = "ptb"                 # ptb | wikitext-2 | tinyshakespeare | custom
    path: str | None = None           # folder with train.txt/valid.txt/test.txt (name: custom)
    level: str | None = None          # word | char; None: the corpus's own (char for tinyshakespeare)
    data_dir: str | None = None       # where the named corpora live (else $HYPERPRUNE_DATA, cache, download)
    train_tokens: int | None = None   # keep only the first N training tokens (CPU-scale runs)
    valid_tokens: int | None = None
    test_tokens: int | None = None

    def validate(self) -> None:
        check_choice("data.name", self.name, ["ptb", "wikitext-2", "tinyshakespeare", "custom"])
        if self.level is not None:
            check_choice("data.level", self.level, ["word", "char"])
        for key in ("train_tokens", "valid_tokens", "test_tokens"):
            value = getattr(self, key)
            if value is not None:
                check_range(f"data.{key}", value, 2)
