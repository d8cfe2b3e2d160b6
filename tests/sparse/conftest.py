"""A hand-made recurrent LM with `sparsifiable()`, and a tiny training loop around a SparseEngine."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hyperprune.sparse import SparseConfig, SparseEngine
from hyperprune.train.asgd import make_asgd


class TinyLM(nn.Module):
    """Embedding -> one LSTM layer (PyTorch gate order) -> decoder; shapes chosen to differ so
    that ER and uniform densities differ. Masked total: 24*6 + 32*6 + 32*8 + 24*8 = 784."""

    def __init__(self, vocab: int = 24, emb: int = 6, hidden: int = 8, tie: bool = False):
        super().__init__()
        self.hidden = hidden
        self.embedding = nn.Embedding(vocab, hidden if tie else emb)
        inp = hidden if tie else emb
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden, inp).uniform_(-0.3, 0.3))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden, hidden).uniform_(-0.3, 0.3))
        self.bias = nn.Parameter(torch.zeros(4 * hidden))
        self.decoder = nn.Linear(hidden, vocab)
        self.tie = tie
        if tie:
            self.decoder.weight = self.embedding.weight

    def forward(self, tokens):                      # tokens (T, B)
        x = self.embedding(tokens)                  # (T, B, E)
        h = x.new_zeros(tokens.shape[1], self.hidden)
        c = torch.zeros_like(h)
        outs = []
        for x_t in x:
            gates = x_t @ self.weight_ih.t() + h @ self.weight_hh.t() + self.bias   # (B, 4H)
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return self.decoder(torch.stack(outs))      # (T, B, V)

    def sparsifiable(self):
        out = {
            "embedding.weight": ("embedding", self.embedding.weight),
            "layers.0.weight_ih": ("recurrent", self.weight_ih),
            "layers.0.weight_hh": ("recurrent", self.weight_hh),
        }
        if not self.tie:
            out["decoder.weight"] = ("decoder", self.decoder.weight)
        return out


class Run:
    """A model, its engine, an optimiser and fixed batches: everything deterministic."""

    def __init__(self, cfg: SparseConfig, seed: int = 0, model_seed: int = 0, epochs: int = 10,
                 steps_per_epoch: int = 4, momentum: float = 0.9, device: str = "cpu"):
        torch.manual_seed(model_seed)
        self.model = TinyLM().to(device)
        gen = torch.Generator().manual_seed(1234)
        self.batches = [torch.randint(0, 24, (6, 3), generator=gen).to(device) for _ in range(4)]
        self.engine = SparseEngine(self.model, cfg, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                   seed=seed)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.5, momentum=momentum,
                                         weight_decay=1e-4)
        self.steps = 0

    def step(self):
        """One training step through the engine hooks; returns the mask update's record or None."""
        batch = self.batches[self.steps % len(self.batches)]
        self.steps += 1
        self.optimizer.zero_grad()
        logits = self.model(batch[:-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[1:].reshape(-1))
        loss.backward()
        self.engine.after_backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return self.engine.after_step(self.optimizer)

    def switch_to_asgd(self):
        self.optimizer = make_asgd(self.model.parameters(), lr=0.5, weight_decay=1e-4)

    def snapshot(self):
        return copy.deepcopy({
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "sparse": self.engine.state_dict(), "steps": self.steps,
        })

    def restore(self, snap):
        snap = copy.deepcopy(snap)
        self.model.load_state_dict(snap["model"])
        self.optimizer.load_state_dict(snap["optimizer"])
        self.engine.load_state_dict(snap["sparse"])
        self.steps = snap["steps"]


@pytest.fixture
def tiny_lm():
    torch.manual_seed(0)
    return TinyLM()


@pytest.fixture
def make_run():
    return Run


@pytest.fixture
def make_tiny():
    """TinyLM's constructor, for tests that need several models."""
    return TinyLM
