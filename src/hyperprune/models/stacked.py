"""Stacked LSTM / GRU / tanh-RNN language model with Zaremba dropout.

Zaremba, Sutskever & Vinyals 2014, "Recurrent Neural Network Regularization": dropout only on the
non-recurrent connections, i.e. on the embedding output, between layers and before the decoder.
Initialisation `uniform`: every parameter from U(-init_range, init_range), as Zaremba; `word-lm`:
embedding and decoder weights from it, decoder bias 0, the recurrent layers keep PyTorch's default
U(+-1/sqrt(H)) (pytorch/examples word_language_model, whose model the LSH paper trains).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from hyperprune.models.base import RecurrentLM, State
from hyperprune.models.layers import LAYERS


class StackedRNNLM(RecurrentLM):
    def __init__(self, kind: str, vocab_size: int, emb_size: int, hidden_sizes: list[int],
                 dropout: float = 0.0, tie_weights: bool = False, init_range: float = 0.1,
                 init: str = "uniform"):
        super().__init__(vocab_size)
        if tie_weights and hidden_sizes[-1] != emb_size:
            raise ValueError(f"tied weights need last hidden size {hidden_sizes[-1]} == emb_size {emb_size}")
        self.dropout = dropout
        self.embedding = nn.Embedding(vocab_size, emb_size)
        input_sizes = [emb_size] + hidden_sizes[:-1]
        self.layers = nn.ModuleList(LAYERS[kind](i, h) for i, h in zip(input_sizes, hidden_sizes))
        self.decoder = nn.Linear(hidden_sizes[-1], vocab_size)
        if init == "uniform":
            for p in self.parameters():
                nn.init.uniform_(p, -init_range, init_range)
        else:
            nn.init.uniform_(self.embedding.weight, -init_range, init_range)
            nn.init.uniform_(self.decoder.weight, -init_range, init_range)
            nn.init.zeros_(self.decoder.bias)
        if tie_weights:  # Press & Wolf 2017 / Inan et al. 2017
            self.decoder.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        x = F.dropout(self.embedding(tokens), self.dropout, self.training)  # (T, B, E)
        new_state: list[Tensor] = []
        for layer, layer_state in zip(self.layers, self.split_state(state)):
            x, layer_state = layer(x, layer_state)  # (T, B, H_l)
            x = F.dropout(x, self.dropout, self.training)  # between layers, and before the decoder
            new_state.extend(layer_state)
        return self.decode(x), tuple(new_state)

    def decode(self, output: Tensor) -> Tensor:
        return self.decoder(output)  # (..., V)
