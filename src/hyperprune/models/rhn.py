"""Recurrent Highway Network language model (Zilly et al. 2017, "Recurrent Highway Networks").

Each token runs L micro-steps of a highway layer on the state s; the input enters only the first:

    h_l = tanh(W_H x [l = 1] + R_H^l s_{l-1} + b_H^l)
    t_l = sigmoid(W_T x [l = 1] + R_T^l s_{l-1} + b_T^l)
    s_l = h_l * t_l + s_{l-1} * (1 - t_l)        (coupled carry gate c = 1 - t)

and the layer's state (and output) is s_L. There is no fused kernel, so `forward` loops over time.
Regularisation as in the paper (Gal's variational dropout): words dropped from the embedding,
locked dropout on the input and output, one dropout mask on s shared by every micro-step and time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyperprune.models.base import RecurrentLM, State
from hyperprune.models.dropout import embedding_dropout, locked_dropout
from hyperprune.models.layers import LayerState, RecurrentLayer

TRANSFORM_BIAS = -2.0  # initial b_T: start by carrying the state (the paper's init_bias)


class RHNLayer(RecurrentLayer):
    """weight_ih (2H, I) = [W_H; W_T]; weight_hh (L*2H, H) stacks [R_H^l; R_T^l] for l = 1..L.

    bias_ih (2H) is added at the first micro-step only, bias_hh (L*2H) per micro-step; the two are
    redundant at l = 1 but keep the parameter names every layer shares.
    """

    kind = "rhn"
    gates = 2

    def __init__(self, input_size: int, hidden_size: int, depth: int, dropout_hidden: float = 0.0):
        self.depth = depth  # read by recurrent_rows() while the base class allocates weight_hh
        super().__init__(input_size, hidden_size)
        self.dropout_hidden = dropout_hidden

    def recurrent_rows(self) -> int:
        return self.depth * 2 * self.hidden_size

    def reset_parameters(self, init_range: float | None = None) -> None:
        bound = init_range if init_range is not None else 1.0 / self.hidden_size ** 0.5
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        nn.init.zeros_(self.bias_ih)
        with torch.no_grad():
            self.bias_hh.view(self.depth, 2, self.hidden_size)[:, 0].zero_()
            self.bias_hh.view(self.depth, 2, self.hidden_size)[:, 1].fill_(TRANSFORM_BIAS)

    def reset_linear_default(self) -> None:
        """`nn.Linear`'s default for each projection, as Selfish-RNN's HighwayBlock builds them
        (models.py:50-53): weights and biases from U(+-1/sqrt(fan_in)), fan_in the input size for W
        and H for every micro-step's R; no transform-gate bias."""
        bound_ih, bound_hh = 1.0 / self.input_size ** 0.5, 1.0 / self.hidden_size ** 0.5
        nn.init.uniform_(self.weight_ih, -bound_ih, bound_ih)
        nn.init.uniform_(self.bias_ih, -bound_ih, bound_ih)
        nn.init.uniform_(self.weight_hh, -bound_hh, bound_hh)
        nn.init.uniform_(self.bias_hh, -bound_hh, bound_hh)

    def micro_step(self, l: int, x_proj: Tensor, s: Tensor, weight_hh: Tensor,
                   s_mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Micro-step l (from 0): s (B, H) -> (s_l, h_l, t_l); x_proj (B, 2H) = W x + b_ih enters at l = 0."""
        R = weight_hh.view(self.depth, 2 * self.hidden_size, self.hidden_size)[l]  # (2H, H)
        b = self.bias_hh.view(self.depth, 2 * self.hidden_size)[l]  # (2H)
        pre = F.linear(s if s_mask is None else s * s_mask, R, b)  # (B, 2H)
        if l == 0:
            pre = pre + x_proj
        h_pre, t_pre = pre.chunk(2, dim=1)
        h, t = torch.tanh(h_pre), torch.sigmoid(t_pre)
        return h * t + s * (1.0 - t), h, t

    def micro_steps(self, x_proj: Tensor, s: Tensor, weight_hh: Tensor, s_mask: Tensor | None) -> Tensor:
        """One token: x_proj (B, 2H) = W x + b_ih, s (B, H) -> s_L (B, H)."""
        for l in range(self.depth):
            s = self.micro_step(l, x_proj, s, weight_hh, s_mask)[0]
        return s

    def forward(self, x: Tensor, state: LayerState) -> tuple[Tensor, LayerState]:
        (s,) = state  # (B, H)
        x_proj = F.linear(x, self.weight_ih, self.bias_ih)  # (T, B, 2H)
        weight_hh = self.recurrent_weight()
        s_mask = None
        if self.training and self.dropout_hidden > 0.0:
            s_mask = s.new_empty(s.shape).bernoulli_(1.0 - self.dropout_hidden) / (1.0 - self.dropout_hidden)
        outputs = []
        for x_t in x_proj:
            s = self.micro_steps(x_t, s, weight_hh, s_mask)
            outputs.append(s)
        return torch.stack(outputs), (s,)  # (T, B, H)

    def step(self, x: Tensor, state: LayerState) -> LayerState:
        (s,) = state
        return (self.micro_steps(F.linear(x, self.weight_ih, self.bias_ih), s, self.weight_hh, None),)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, depth={self.depth}"


class RHNLM(RecurrentLM):
    def __init__(self, vocab_size: int, emb_size: int, hidden_sizes: list[int], depth: int,
                 dropout: float = 0.0, dropout_input: float = 0.0, dropout_hidden: float = 0.0,
                 dropout_embedding: float = 0.0, tie_weights: bool = True, init_range: float = 0.04,
                 init: str = "uniform"):
        """`init`: "uniform" draws every weight from U(+-init_range) and starts the transform gates'
        bias at -2 (Zilly et al.); "word-lm" draws only the embedding and decoder weights from it, with
        a zero decoder bias, and the layers keep `nn.Linear`'s default (Selfish-RNN's RHN, which the
        LSH paper prunes: models.py:138-142)."""
        super().__init__(vocab_size)
        if tie_weights and hidden_sizes[-1] != emb_size:
            raise ValueError(f"tied weights need last hidden size {hidden_sizes[-1]} == emb_size {emb_size}")
        self.dropout, self.dropout_input, self.dropout_embedding = dropout, dropout_input, dropout_embedding
        self.embedding = nn.Embedding(vocab_size, emb_size)
        input_sizes = [emb_size] + hidden_sizes[:-1]
        self.layers = nn.ModuleList(RHNLayer(i, h, depth, dropout_hidden) for i, h in zip(input_sizes, hidden_sizes))
        self.decoder = nn.Linear(hidden_sizes[-1], vocab_size)
        nn.init.uniform_(self.embedding.weight, -init_range, init_range)
        nn.init.uniform_(self.decoder.weight, -init_range, init_range)
        nn.init.zeros_(self.decoder.bias)
        for layer in self.layers:
            if init == "word-lm":
                layer.reset_linear_default()
            else:
                layer.reset_parameters(init_range)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        x = embedding_dropout(self.embedding.weight, tokens, self.dropout_embedding, self.training)  # (T, B, E)
        x = locked_dropout(x, self.dropout_input, self.training)
        new_state: list[Tensor] = []
        for i, (layer, layer_state) in enumerate(zip(self.layers, self.split_state(state))):
            if i > 0:
                x = locked_dropout(x, self.dropout_input, self.training)
            x, layer_state = layer(x, layer_state)  # (T, B, H_l)
            new_state.extend(layer_state)
        x = locked_dropout(x, self.dropout, self.training)
        return self.decode(x), tuple(new_state)

    def decode(self, output: Tensor) -> Tensor:
        return self.decoder(output)  # (..., V)
