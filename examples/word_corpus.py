"""What the two examples share, written as a user of plain PyTorch would: words to ids, an LSTM LM,
truncated-BPTT batches and perplexity (the shape of pytorch/examples' word_language_model).

Nothing here comes from hyperprune: it stands for the user's own code.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import torch
from torch import nn

# A tiny built-in text for machines without PTB: generated sentences with a little grammar.
SUBJECTS = ["the market", "a trader", "the company", "investors", "the bank", "analysts", "the firm"]
VERBS = ["said", "expects", "reported", "sold", "bought", "raised", "cut", "sees"]
OBJECTS = ["shares", "its stake", "the price", "profits", "rates", "new bonds", "its forecast", "the deal"]
TAILS = ["last week", "in march", "on monday", "this year", "again", "by N %", "for N cents a share"]


def builtin_text(n_sentences: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join([rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(TAILS)])
            for _ in range(n_sentences)]


def load_words(max_train: int, max_valid: int) -> tuple[torch.Tensor, torch.Tensor, int, str]:
    """(train ids, valid ids, vocabulary size, source): PTB from $HYPERPRUNE_DATA/ptb, else the built-in text."""
    folder = Path(os.environ.get("HYPERPRUNE_DATA", "")) / "ptb"
    if os.environ.get("HYPERPRUNE_DATA") and (folder / "train.txt").is_file():
        train_lines = (folder / "train.txt").read_text().splitlines()
        valid_lines = (folder / "valid.txt").read_text().splitlines()
        source = f"PTB ({folder})"
    else:
        train_lines, valid_lines, source = builtin_text(4000, 0), builtin_text(600, 1), "built-in text"
    vocab: dict[str, int] = {"<unk>": 0}

    def ids(lines: list[str], limit: int, grow: bool) -> torch.Tensor:
        out: list[int] = []
        for line in lines:
            for word in line.split() + ["<eos>"]:
                if grow:
                    vocab.setdefault(word, len(vocab))
                out.append(vocab.get(word, 0))
            if len(out) >= limit:
                break
        return torch.tensor(out[:limit], dtype=torch.long)

    train = ids(train_lines, max_train, grow=True)
    return train, ids(valid_lines, max_valid, grow=False), len(vocab), source


class LSTMLM(nn.Module):
    """Embedding -> nn.LSTM -> Linear: a user's language model."""

    def __init__(self, vocab: int, size: int = 64, layers: int = 2, dropout: float = 0.2):
        super().__init__()
        self.embed = nn.Embedding(vocab, size)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(size, size, num_layers=layers, dropout=dropout)
        self.decoder = nn.Linear(size, vocab)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, tokens: torch.Tensor, state=None):             # (T, B) -> (T, B, V)
        out, state = self.lstm(self.drop(self.embed(tokens)), state)
        return self.decoder(self.drop(out)), state


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    n = ids.numel() // batch_size
    return ids[:n * batch_size].view(batch_size, n).t().contiguous()    # (N, B)


def train_one_epoch(model: LSTMLM, data: torch.Tensor, lr: float, bptt: int = 35, clip: float = 0.25,
                    engine=None) -> None:
    """Plain truncated BPTT with SGD; `engine` (a hyperprune SparseEngine) keeps the masks, if given."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    state = None
    for i in range(0, data.shape[0] - 1, bptt):
        x, y = data[i:i + bptt], data[i + 1:i + 1 + bptt]
        x = x[:y.shape[0]]
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if engine is not None:
            engine.after_backward()                  # before clipping: the growth signals see the dense gradient
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if engine is not None:
            engine.after_step(optimizer)             # pruned weights back to exactly 0


@torch.no_grad()
def perplexity(model: LSTMLM, data: torch.Tensor, bptt: int = 35) -> float:
    model.eval()
    state, total, count = None, 0.0, 0
    for i in range(0, data.shape[0] - 1, bptt):
        x, y = data[i:i + bptt], data[i + 1:i + 1 + bptt]
        logits, state = model(x[:y.shape[0]], state)
        total += float(nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                   reduction="sum"))
        count += y.numel()
    return math.exp(total / count)
