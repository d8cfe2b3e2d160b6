"""Analytic tangents for stacks of LSTM, GRU, tanh-RNN and RHN layers (hyperprune.models).

Per step and layer the gates are computed once, by the layer's own `cell` (or `micro_step`), so the
next state is bit-for-bit the model's, and so are their derivatives. A layer's Jacobian blocks are
its weight matrices with the rows scaled by those derivatives -- a diagonal matrix is never built:

    diag(c) W  ==  c[:, :, None] * W          O(H * m) to build, O(H * m * k) to apply to a frame

and frames move through the blocks by batched matmuls. Layer l reads the new h of layer l - 1, so
the stack's Jacobian is block lower triangular; `forward` walks the layers up (J V), `transpose`
walks them down (J^T V), like reverse-mode AD by hand.

Cell equations and their derivatives (a = W x + b_ih + U h + b_hh, sigma' = sigma (1 - sigma)):

LSTM (gates i, f, g, o):  c' = f c + i g,  h' = o tanh(c')
    dc' = s_i da_i + s_f da_f + s_g da_g + f dc,   dh' = s_o da_o + u dc'
    s_i = i'(.) g,  s_f = f'(.) c,  s_g = i (1 - g^2),  s_o = o'(.) tanh(c'),  u = o (1 - tanh(c')^2)
  With c held fixed (dc = 0, h only): dh' = sum_gates e_gate da_gate, e = (u s_i, u s_f, u s_g, s_o).
GRU (r, z, n):  h' = (1 - z) n + z h,  n = tanh(x_n + r (U_n h + b_hn))
    dh' = (h - n) dz + (1 - z) dn + z dh
    -> A = e_r U_r + e_z U_z + e_n U_n + diag(z),  e_z = (h - n) z', q = (1 - z)(1 - n^2),
       e_n = q r,  e_r = q (U_n h + b_hn) r';  input: e_r W_r + e_z W_z + q W_n
tanh RNN:  h' = tanh(a),  A = (1 - h'^2) U
RHN micro-step:  s' = h t + s (1 - t),  h = tanh(p_H),  t = sigmoid(p_T),  p = R s + b (+ W x at the first)
    M = t (1 - h^2) R_H + (h - s) t' R_T + diag(1 - t); the layer's Jacobian is M_D ... M_1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyperprune.lyapunov.tangents import Push, State, TangentMap

ANALYTIC_KINDS = ("lstm", "gru", "rnn", "rhn")


def rows_scaled(coeffs: Sequence[Tensor], blocks: Sequence[Tensor]) -> Tensor:
    """sum_g diag(c_g) W_g for c_g (B, H) and W_g (H, m), as (B, H, m), without a diagonal matrix."""
    out = coeffs[0].unsqueeze(2) * blocks[0]             # (B, H, m)
    for c, W in zip(coeffs[1:], blocks[1:]):
        out.addcmul_(c.unsqueeze(2), W)                  # += c[:, :, None] * W
    return out


def add_diagonal(A: Tensor, d: Tensor) -> Tensor:
    """A + diag(d) for A (B, H, H), d (B, H), in place."""
    A.diagonal(dim1=1, dim2=2).add_(d)
    return A


# ---- one layer's Jacobian at one step -------------------------------------------------------------


class HiddenJacobian:
    """A layer whose kept state is one tensor h:  dh' = M_D ... M_2 (A dh + X dx).

    A (B, H, H) and X (B, H, I) are the first micro-step's state and input blocks (X is None for
    the bottom layer, whose input, the embedding, is not part of the state); `chain` holds the
    later micro-steps M_2 .. M_D of an RHN (empty for LSTM-with-fixed-c, GRU and RNN).
    `forward` and `transpose` write into `out`, views of the frame that leaves the step.
    """

    def __init__(self, A: Tensor, X: Tensor | None, chain: Sequence[Tensor] = ()):
        self.A, self.X, self.chain = A, X, list(chain)

    def cast(self, dtype: torch.dtype) -> HiddenJacobian:
        if self.A.dtype == dtype:
            return self
        return HiddenJacobian(self.A.to(dtype), None if self.X is None else self.X.to(dtype),
                              [M.to(dtype) for M in self.chain])

    def forward(self, d_state: list[Tensor], dx: Tensor | None, out: list[Tensor]) -> None:
        (dh,), (dh_new,) = d_state, out                  # (B, H, k)
        v = torch.bmm(self.A, dh)                        # A dh
        if dx is not None:
            v.baddbmm_(self.X, dx)                       # + X dx
        for M in self.chain:                             # RHN micro-steps 2 .. D
            v = torch.bmm(M, v)
        dh_new.copy_(v)

    def transpose(self, w_state: list[Tensor], out: list[Tensor], below: Tensor | None) -> Tensor | None:
        """out = A^T ... w; returns below + X^T (...) w, the cotangent on the layer below's h."""
        (w,), (dh,) = w_state, out                       # w: cotangent on h', (B, H, k)
        for M in reversed(self.chain):
            w = torch.bmm(M.mT, w)
        torch.bmm(self.A.mT, w, out=dh)
        return None if below is None else torch.baddbmm(below, self.X.mT, w)


class LSTMJacobian:
    """An LSTM layer with state (h, c):  dc' = C dh + C_x dx + f dc,  dh' = O dh + O_x dx + u dc'.

    M (B, 2H, H) stacks [C; O]: C = s_i U_i + s_f U_f + s_g U_g (rows scaled), O = s_o U_o;
    M_x (B, 2H, I) the same with W_ih (None for the bottom layer); f, u (B, H, 1).
    """

    def __init__(self, M: Tensor, M_x: Tensor | None, f: Tensor, u: Tensor):
        self.M, self.M_x, self.f, self.u = M, M_x, f, u
        self.H = f.shape[1]

    def cast(self, dtype: torch.dtype) -> LSTMJacobian:
        if self.M.dtype == dtype:
            return self
        return LSTMJacobian(self.M.to(dtype), None if self.M_x is None else self.M_x.to(dtype),
                            self.f.to(dtype), self.u.to(dtype))

    def forward(self, d_state: list[Tensor], dx: Tensor | None, out: list[Tensor]) -> None:
        (dh, dc), (dh_new, dc_new) = d_state, out        # (B, H, k) each
        P = torch.bmm(self.M, dh)                        # (B, 2H, k): [C dh; O dh]
        if dx is not None:
            P.baddbmm_(self.M_x, dx)                     # += [C_x dx; O_x dx]
        torch.addcmul(P[:, :self.H], self.f, dc, out=dc_new)       # C dh + C_x dx + f dc
        torch.addcmul(P[:, self.H:], self.u, dc_new, out=dh_new)   # O dh + O_x dx + u dc'

    def transpose(self, w_state: list[Tensor], out: list[Tensor], below: Tensor | None) -> Tensor | None:
        (w_h, w_c), (dh, dc) = w_state, out              # cotangents on h', c'
        W = torch.empty(w_h.shape[0], 2 * self.H, w_h.shape[2], dtype=w_h.dtype, device=w_h.device)
        torch.addcmul(w_c, self.u, w_h, out=W[:, :self.H])   # on c': direct, plus through h' = o tanh(c')
        W[:, self.H:].copy_(w_h)                         # W = [w_c'; w_h] (B, 2H, k)
        torch.bmm(self.M.mT, W, out=dh)
        torch.mul(self.f, W[:, :self.H], out=dc)
        return None if below is None else torch.baddbmm(below, self.M_x.mT, W)


LayerJacobian = HiddenJacobian | LSTMJacobian


# ---- the layers' cells (their own `cell` / `micro_step`, so the state is the model's) plus derivatives --


def lstm_layer(layer: nn.Module, x: Tensor, state: tuple[Tensor, ...], keep_cell: bool,
               need_input: bool) -> tuple[tuple[Tensor, ...], LayerJacobian]:
    h, c = state                                                        # (B, H) each
    cell = layer.cell(x, h, c)
    i, f, g, o, tanh_c = cell.i, cell.f, cell.g, cell.o, cell.tanh_c
    s_i, s_f, s_g = i * (1 - i) * g, f * (1 - f) * c, i * (1 - g * g)   # d c' / d a_{i,f,g}
    s_o = o * (1 - o) * tanh_c                                          # d h' / d a_o
    u = o * (1 - tanh_c * tanh_c)                                       # d h' / d c'
    U = layer.weight_hh.chunk(4, dim=0)                                 # 4 x (H, H)
    W = layer.weight_ih.chunk(4, dim=0) if need_input else None         # 4 x (H, I)
    if keep_cell:
        def stacked(blocks):                                            # [C; O]: (B, 2H, m)
            return torch.cat([rows_scaled([s_i, s_f, s_g], blocks[:3]), rows_scaled([s_o], blocks[3:])], 1)
        jac = LSTMJacobian(stacked(U), stacked(W) if need_input else None, f.unsqueeze(2), u.unsqueeze(2))
    else:  # c held fixed: dh' = sum_gates e_gate (U_gate dh + W_gate dx)
        e = [u * s_i, u * s_f, u * s_g, s_o]
        jac = HiddenJacobian(rows_scaled(e, U), rows_scaled(e, W) if need_input else None)
    return (cell.h, cell.c), jac


def gru_layer(layer: nn.Module, x: Tensor, state: tuple[Tensor, ...], keep_cell: bool,
              need_input: bool) -> tuple[tuple[Tensor, ...], LayerJacobian]:
    (h,) = state
    cell = layer.cell(x, h)
    r, z, n = cell.r, cell.z, cell.n
    q = (1 - z) * (1 - n * n)                                           # d h' / d (n's pre-activation)
    e_r, e_z, e_n = q * cell.h_n * r * (1 - r), (h - n) * z * (1 - z), q * r
    A = add_diagonal(rows_scaled([e_r, e_z, e_n], layer.weight_hh.chunk(3, dim=0)), z)
    X = rows_scaled([e_r, e_z, q], layer.weight_ih.chunk(3, dim=0)) if need_input else None
    return (cell.h,), HiddenJacobian(A, X)


def rnn_layer(layer: nn.Module, x: Tensor, state: tuple[Tensor, ...], keep_cell: bool,
              need_input: bool) -> tuple[tuple[Tensor, ...], LayerJacobian]:
    (h_new,) = layer.step(x, state)
    e = 1 - h_new * h_new                                               # tanh'
    X = rows_scaled([e], [layer.weight_ih]) if need_input else None
    return (h_new,), HiddenJacobian(rows_scaled([e], [layer.weight_hh]), X)


def rhn_layer(layer: nn.Module, x: Tensor, state: tuple[Tensor, ...], keep_cell: bool,
              need_input: bool) -> tuple[tuple[Tensor, ...], LayerJacobian]:
    (s,) = state                                                        # (B, H)
    x_proj = F.linear(x, layer.weight_ih, layer.bias_ih)                # (B, 2H)
    R = layer.weight_hh.view(layer.depth, 2 * layer.hidden_size, layer.hidden_size)  # (D, 2H, H)
    micro, X = [], None
    for l in range(layer.depth):
        s_new, h, t = layer.micro_step(l, x_proj, s, layer.weight_hh)
        a_H, a_T = t * (1 - h * h), (h - s) * t * (1 - t)               # d s' / d p_H, d s' / d p_T
        micro.append(add_diagonal(rows_scaled([a_H, a_T], R[l].chunk(2, dim=0)), 1 - t))
        if l == 0 and need_input:
            X = rows_scaled([a_H, a_T], layer.weight_ih.chunk(2, dim=0))
        s = s_new
    return (s,), HiddenJacobian(micro[0], X, micro[1:])


CELLS = {"lstm": lstm_layer, "gru": gru_layer, "rnn": rnn_layer, "rhn": rhn_layer}


# ---- the whole stack -------------------------------------------------------------------------------


class AnalyticTangent(TangentMap):
    """J V (or J^T V) of a RecurrentLM's `step` from its layers' cell equations.

    keep: "all" (every state tensor: LSTM h and c) or "h" (hidden states only, LSTM cells held fixed
    when differentiating, as in the LSH paper's code).
    """

    name = "analytic"

    def __init__(self, model: nn.Module, keep: str = "all", transpose: bool = False):
        kinds = [layer.kind for layer in model.layers]
        unsupported = sorted(set(kinds) - set(ANALYTIC_KINDS))
        if unsupported:
            raise ValueError(f"no analytic tangent for layer kind(s) {unsupported}; "
                             f"supported: {', '.join(ANALYTIC_KINDS)}")
        if keep not in ("all", "h"):
            raise ValueError(f"keep must be 'all' or 'h', got {keep!r}")
        state_kinds = model.state_kinds()
        super().__init__([i for i, kind in enumerate(state_kinds) if keep == "all" or kind == "h"], transpose)
        self.model = model
        self.keep_cell = keep == "all"

    @staticmethod
    def supports(model: nn.Module) -> bool:
        layers = getattr(model, "layers", None)
        return layers is not None and all(getattr(layer, "kind", None) in CELLS for layer in layers)

    def advance(self, x_t: Tensor, state: State) -> State:
        with torch.no_grad():
            return tuple(self.model.step(x_t, state))

    @torch.no_grad()
    def linearize(self, x_t: Tensor, state: State) -> tuple[State, Push]:
        model = self.model
        x = model.embedding(x_t)                                        # (B, E)
        new_state: list[Tensor] = []
        jacobians: list[LayerJacobian] = []
        for l, (layer, layer_state) in enumerate(zip(model.layers, model.split_state(state))):
            layer_state, jac = CELLS[layer.kind](layer, x, layer_state, self.keep_cell, need_input=l > 0)
            new_state.extend(layer_state)
            jacobians.append(jac)
            x = layer_state[0]                                          # this layer's h feeds the next
        per_layer = [len(layer.state_kinds()) if self.keep_cell else 1 for layer in model.layers]
        sizes = [layer.hidden_size for layer, m in zip(model.layers, per_layer) for _ in range(m)]

        def push(V: Tensor) -> Tensor:                                  # V (B, n, k)
            out = torch.empty_like(V)
            jacs = [jac.cast(V.dtype) for jac in jacobians]
            v_blocks, o_blocks = by_layer(V), by_layer(out)             # per layer, per kept tensor
            if not self.transposed:                                     # up the stack: J V
                dx = None
                for jac, d_state, d_new in zip(jacs, v_blocks, o_blocks):
                    jac.forward(d_state, dx, d_new)
                    dx = d_new[0]                                       # the new h feeds the next layer
            else:                                                       # down the stack: J^T V
                w = v_blocks[-1]
                for l in reversed(range(len(jacs))):
                    below = v_blocks[l - 1][0] if l > 0 else None
                    w_below = jacs[l].transpose(w, o_blocks[l], below)  # + cotangent from layer l's input
                    if l > 0:
                        w = [w_below, *v_blocks[l - 1][1:]]
            return out

        def by_layer(V: Tensor) -> list[list[Tensor]]:
            blocks = iter(V.split(sizes, dim=1))                        # views, (B, n_i, k)
            return [[next(blocks) for _ in range(m)] for m in per_layer]

        return tuple(new_state), push
