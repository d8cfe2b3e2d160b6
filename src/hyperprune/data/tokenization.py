"""Bytes -> checked text -> tokens -> ids.

Word level: each line is split on whitespace (`str.split()`) and closed by one `<eos>`; every line
counts, empty ones too, and a final newline does not open an extra empty line (as `for line in f`).
Char level: every character is a token and a line break is the token "\n", so a model can learn
line structure exactly as it appears in the file.
Line breaks are read as universal newlines ("\r\n" and "\r" become "\n"), like Python's text mode.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hyperprune.data.vocabulary import EOS, UNK, Vocabulary
from hyperprune.errors import UserError

_LINE_END = {"word": EOS, "char": "\n"}   # the token that closes a line at each level


def decode_text(raw: bytes, path: Path) -> str:
    """UTF-8 text of a file's bytes, or a one-line UserError naming the offending byte offset."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise UserError(
            f"file '{path}' looks binary (NUL byte at byte offset {nul}); expected a plain UTF-8 text file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"file '{path}' is not UTF-8 text (byte 0x{raw[exc.start]:02x} at byte offset {exc.start}); "
            "re-save it as UTF-8"
        ) from None
    # A byte-order mark is an encoding artefact, not text (editors on Windows add it).
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tokenize(text: str, level: str) -> list[str]:
    if level == "char":
        return list(text)
    lines = text.split("\n")
    if lines[-1] == "":   # the file's final newline ends the last line; it does not start a new one
        lines.pop()
    return [token for line in lines for token in (*line.split(), EOS)]


def encode(tokens: list[str], vocab: Vocabulary, level: str, where: str) -> torch.Tensor:
    """1-D long tensor of ids; tokens unseen in training map to <unk>, or fail if there is none.

    `where` names the text for the error, e.g. "the valid file '/data/ptb/valid.txt'"."""
    stoi = vocab.stoi
    try:
        ids = [stoi[token] for token in tokens]
    except KeyError:
        ids = _encode_with_unknowns(tokens, vocab, level, where)
    return torch.tensor(ids, dtype=torch.long)


def _encode_with_unknowns(tokens: list[str], vocab: Vocabulary, level: str, where: str) -> list[int]:
    stoi = vocab.stoi
    if UNK in stoi:
        unk = stoi[UNK]
        return [stoi.get(token, unk) for token in tokens]
    at = next(i for i, token in enumerate(tokens) if token not in stoi)
    line = tokens[:at].count(_LINE_END[level]) + 1
    what = "character" if level == "char" else "word"
    raise UserError(
        f"{what} {tokens[at]!r} in {where} (line {line}) is not in the training "
        f"vocabulary, which has no '{UNK}' to map it to; add it to the training text or replace rare "
        f"{what}s by '{UNK}' in train.txt"
    )
