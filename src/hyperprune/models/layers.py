"""Recurrent layers with plain parameters: fused kernels in `forward`, the cell written out in `step`.

Parameter names and gate orders are PyTorch's, so a layer's weights can be copied to or from
`nn.LSTM` / `nn.GRU` / `nn.RNN` directly. `forward` runs the whole sequence through the fused
kernel (cuDNN on GPU); `step` is one time step of the same cell, the map the Lyapunov engine
differentiates.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LayerState = tuple[Tensor, ...]


class LSTMCell(NamedTuple):
    """One LSTM step: the next (h, c) and the values its Jacobian is built from (B, H) each."""

    h: Tensor
    c: Tensor
    i: Tensor  # input gate, after its sigmoid
    f: Tensor  # forget gate
    g: Tensor  # candidate, after its tanh
    o: Tensor  # output gate
    tanh_c: Tensor  # tanh(c')


class GRUCell(NamedTuple):
    """One GRU step: the next h and the values its Jacobian is built from (B, H) each."""

    h: Tensor
    r: Tensor
    z: Tensor
    n: Tensor
    h_n: Tensor  # W_hn h + b_hn, the recurrent part that r gates


class RecurrentLayer(nn.Module):
    """One recurrent layer: `weight_ih (G*H, I)`, `weight_hh (G*H, H)`, `bias_ih`, `bias_hh (G*H)`.

    `weight_drop` > 0 applies DropConnect to `weight_hh` once per `forward` in training mode
    (Merity et al. 2018, "Regularizing and Optimizing LSTM Language Models", sec. 2).
    """

    kind: str
    gates: int  # G: blocks of H rows stacked in the weight matrices

    def __init__(self, input_size: int, hidden_size: int, weight_drop: float = 0.0):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_drop = weight_drop
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(self.recurrent_rows(), hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows))
        self.bias_hh = nn.Parameter(torch.empty(self.recurrent_rows()))
        self.reset_parameters()

    def recurrent_rows(self) -> int:
        """Rows of weight_hh and bias_hh: G*H, one block per gate."""
        return self.gates * self.hidden_size

    def reset_parameters(self) -> None:
        """PyTorch's default for recurrent layers: uniform(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def state_kinds(self) -> tuple[str, ...]:
        return ("h",)

    def recurrent_weight(self) -> Tensor:
        """weight_hh as used by this forward: DropConnect-ed in training when weight_drop > 0."""
        if self.weight_drop > 0.0 and self.training:
            return F.dropout(self.weight_hh, self.weight_drop, training=True)
        return self.weight_hh

    def weights(self) -> tuple[Tensor, ...]:
        """The flat parameter list the fused kernels take, with the dropped weight_hh."""
        return (self.weight_ih, self.recurrent_weight(), self.bias_ih, self.bias_hh)

    def extra_repr(self) -> str:
        drop = f", weight_drop={self.weight_drop}" if self.weight_drop else ""
        return f"{self.input_size}, {self.hidden_size}{drop}"


class LSTMLayer(RecurrentLayer):
    """LSTM (Hochreiter & Schmidhuber 1997) with PyTorch's gate order i, f, g, o; state (h, c)."""

    kind = "lstm"
    gates = 4

    def state_kinds(self) -> tuple[str, ...]:
        return ("h", "c")

    def forward(self, x: Tensor, state: LayerState) -> tuple[Tensor, LayerState]:
        h0, c0 = state  # (B, H) each
        output, h, c = torch.lstm(x, (h0[None], c0[None]), self.weights(),
                                  True, 1, 0.0, self.training, False, False)  # output (T, B, H)
        return output, (h[0], c[0])

    def cell(self, x: Tensor, h: Tensor, c: Tensor) -> LSTMCell:
        """One step with its gates: c' = f c + i g, h' = o tanh(c')."""
        gates = F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)  # (B, 4H)
        a_i, a_f, a_g, a_o = gates.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c_new = f * c + i * g
        tanh_c = torch.tanh(c_new)
        return LSTMCell(o * tanh_c, c_new, i, f, g, o, tanh_c)

    def step(self, x: Tensor, state: LayerState) -> LayerState:
        out = self.cell(x, *state)
        return out.h, out.c


class GRULayer(RecurrentLayer):
    """GRU (Cho et al. 2014) with PyTorch's gate order r, z, n and n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    kind = "gru"
    gates = 3

    def forward(self, x: Tensor, state: LayerState) -> tuple[Tensor, LayerState]:
        (h0,) = state
        output, h = torch.gru(x, h0[None], self.weights(), True, 1, 0.0, self.training, False, False)
        return output, (h[0],)

    def cell(self, x: Tensor, h: Tensor) -> GRUCell:
        """One step with its gates: h' = (1 - z) n + z h."""
        x_r, x_z, x_n = F.linear(x, self.weight_ih, self.bias_ih).chunk(3, dim=1)  # (B, H) each
        h_r, h_z, h_n = F.linear(h, self.weight_hh, self.bias_hh).chunk(3, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return GRUCell((1.0 - z) * n + z * h, r, z, n, h_n)

    def step(self, x: Tensor, state: LayerState) -> LayerState:
        return (self.cell(x, *state).h,)


class RNNLayer(RecurrentLayer):
    """Elman tanh RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""

    kind = "rnn"
    gates = 1

    def forward(self, x: Tensor, state: LayerState) -> tuple[Tensor, LayerState]:
        (h0,) = state
        output, h = torch.rnn_tanh(x, h0[None], self.weights(), True, 1, 0.0, self.training, False, False)
        return output, (h[0],)

    def step(self, x: Tensor, state: LayerState) -> LayerState:
        (h,) = state
        return (torch.tanh(F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)),)


LAYERS: dict[str, type[RecurrentLayer]] = {"lstm": LSTMLayer, "gru": GRULayer, "rnn": RNNLayer}
