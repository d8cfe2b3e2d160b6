"""The token <-> id mapping of a corpus, built from its training split."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

EOS = "<eos>"   # word level: closes every line, so the model learns where sentences end
UNK = "<unk>"   # when the training text has it, unseen valid/test words map to it


@dataclass
class Vocabulary:
    itos: list[str]
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has repeated tokens")

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> "Vocabulary":
        """Ids in order of first appearance: deterministic, and the same ids pytorch/examples gives."""
        return cls(list(dict.fromkeys(tokens)))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi
