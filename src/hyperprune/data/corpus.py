"""A corpus: vocabulary plus train/valid/test token ids, read from a named corpus or a custom folder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from hyperprune.data.config import DataConfig
from hyperprune.data.location import locate_corpus
from hyperprune.data.sources import NAMED_CORPORA, SPLIT_PERCENT
from hyperprune.data.token_cache import SPLITS, entry_path, read_entry, write_entry
from hyperprune.data.tokenization import decode_text, encode, tokenize
from hyperprune.data.vocabulary import Vocabulary
from hyperprune.errors import UserError

CUSTOM_FILES = ("train.txt", "valid.txt", "test.txt")


@dataclass
class Corpus:
    name: str
    level: str               # "word" | "char"
    vocab: Vocabulary
    train: torch.Tensor      # (N_train,) long
    valid: torch.Tensor      # (N_valid,) long
    test: torch.Tensor       # (N_test,) long


def load_corpus(cfg: DataConfig) -> Corpus:
    cfg.validate()  # a DataConfig built in code never passed through config.from_dict
    if cfg.name == "custom":
        level = cfg.level or "word"
        paths = _custom_files(cfg.path)
        expected: list[str | None] = [None] * len(paths)
    else:
        named = NAMED_CORPORA[cfg.name]
        level = cfg.level or named.level
        folder = locate_corpus(named, cfg.data_dir)
        paths = [folder / source.name for source in named.files]
        expected = [source.sha256 for source in named.files]

    raws = [_read_bytes(path) for path in paths]
    hashes = [hashlib.sha256(raw).hexdigest() for raw in raws]
    for path, raw, got, want in zip(paths, raws, hashes, expected):
        if not raw:
            raise UserError(f"file '{path}' is empty; it must hold UTF-8 text")
        if want is not None and got != want:
            raise UserError(
                f"file '{path}' of dataset '{cfg.name}' is corrupt or truncated ({len(raw):,} bytes, sha256 "
                f"{got}; expected sha256 {want}); delete or replace it (a differently prepared text "
                f"can be read with data.name=custom)"
            )

    split_rule = "files" if len(paths) == len(SPLITS) else "chars-{}/{}/{}".format(*SPLIT_PERCENT)
    entry = entry_path(cfg.name, level, hashes, split_rule)
    cached = read_entry(entry)
    if cached is None:
        vocab, ids = _tokenize_splits(paths, raws, level)
        write_entry(entry, vocab, ids)
    else:
        vocab, ids = cached

    limits = {"train": cfg.train_tokens, "valid": cfg.valid_tokens, "test": cfg.test_tokens}
    ids = {split: ids[split][:limits[split]] if limits[split] else ids[split] for split in SPLITS}
    return Corpus(cfg.name, level, vocab, ids["train"], ids["valid"], ids["test"])


def corpus_stats(corpus: Corpus) -> dict[str, int]:
    return {
        "train_tokens": int(corpus.train.numel()),
        "valid_tokens": int(corpus.valid.numel()),
        "test_tokens": int(corpus.test.numel()),
        "vocab_size": len(corpus.vocab),
    }


def split_by_percent(text: str) -> tuple[str, str, str]:
    """One text cut at exact character offsets into SPLIT_PERCENT (90/5/5) parts, the rest to test."""
    n = len(text)
    n_train = n * SPLIT_PERCENT[0] // 100
    n_valid = n * SPLIT_PERCENT[1] // 100
    return text[:n_train], text[n_train:n_train + n_valid], text[n_train + n_valid:]


def _tokenize_splits(paths: list[Path], raws: list[bytes], level: str
                     ) -> tuple[Vocabulary, dict[str, torch.Tensor]]:
    texts = [decode_text(raw, path) for path, raw in zip(paths, raws)]
    if len(texts) == len(SPLITS):
        where = [f"the {split} file '{path}'" for split, path in zip(SPLITS, paths)]
    else:
        (path,) = paths
        texts = list(split_by_percent(texts[0]))
        where = [f"the {split} part of '{path}'" for split in SPLITS]
    tokens = [tokenize(text, level) for text in texts]
    vocab = Vocabulary.from_tokens(tokens[0])   # from the training split only
    ids = {split: encode(toks, vocab, level, w) for split, toks, w in zip(SPLITS, tokens, where)}
    return vocab, ids


def _custom_files(path: str | None) -> list[Path]:
    allowed = ", ".join(CUSTOM_FILES)
    if not path:
        raise UserError(f"data.name=custom needs data.path: a folder holding {allowed}")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UserError(f"data.path '{folder}' is not a folder; it must be a folder holding {allowed}")
    missing = [name for name in CUSTOM_FILES if not (folder / name).is_file()]
    if missing:
        raise UserError(f"data.path '{folder}' is missing {', '.join(missing)}; it must hold {allowed}")
    return [folder / name for name in CUSTOM_FILES]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(
            f"cannot read file '{path}' ({exc.strerror}); check that it exists and is readable"
        ) from None
