"""A user's world, in miniature: a plain nn.LSTM language model, token data, a training epoch."""

from __future__ import annotations

import torch
from torch import nn

VOCAB = 40


class UserLM(nn.Module):
    """The kind of model a user brings: embedding, nn.LSTM, decoder; no hyperprune class in sight."""

    def __init__(self, hidden: int = 16, layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, hidden)
        self.rnn = nn.LSTM(hidden, hidden, num_layers=layers, dropout=dropout)
        self.out = nn.Linear(hidden, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:   # (T, B) -> (T, B, V)
        return self.out(self.rnn(self.embed(tokens))[0])


def token_stream(n: int = 3000, seed: int = 0) -> torch.Tensor:
    """Mostly +1 steps through the vocabulary: a sequence a small LSTM can learn."""
    g = torch.Generator().manual_seed(seed)
    steps = torch.where(torch.rand(n, generator=g) < 0.8, 1, torch.randint(0, VOCAB, (n,), generator=g))
    return torch.cumsum(steps, 0) % VOCAB


def train_epoch(model: nn.Module, epoch: int, lr: float = 1.0, data: torch.Tensor | None = None,
                engine=None) -> None:
    """One epoch of plain truncated-BPTT SGD over 400 tokens in batches of 4 x 20."""
    data = token_stream() if data is None else data
    batches = data[:400].view(4, 100).t()                      # (100, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for i in range(0, 100 - 1, 20):
        x, y = batches[i:i + 20], batches[i + 1:i + 21]
        loss = nn.functional.cross_entropy(model(x[:len(y)]).reshape(-1, VOCAB), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if engine is not None:
            engine.after_backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        if engine is not None:
            engine.after_step(optimizer)
