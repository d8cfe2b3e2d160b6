"""How a frame of tangent vectors moves through one step of a map: J_t V (or J_t^T V).

A `TangentMap` linearises the map s_t = F(s_{t-1}, x_t) at the current state and input and hands
back the next state together with `push: V (B, n, k) -> J_t V (B, n, k)`. The tangent space is
spanned by the *kept* state tensors, concatenated in state order; the other tensors are held fixed
when differentiating (the Lyapunov `reference` convention keeps an LSTM's h and holds c fixed).

`AutogradTangent` works for any `step` through torch.func: a jvp per tangent column, batched over
the k columns with vmap (a vjp for J^T V). The analytic fast paths live in `analytic.py`.

The B sequences share nothing: J_t is block diagonal over the batch, so a jvp with tangent
V[:, :, j] gives every sequence's J_t V[:, :, j] at once. (This assumes `step` treats the rows of
its batch independently, as every recurrent network in eval mode does.)
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

State = tuple[Tensor, ...]
Step = Callable[[Tensor, State], State]
Push = Callable[[Tensor], Tensor]


class TangentMap(abc.ABC):
    """Base class. Subclasses set `name` and implement `advance` and `linearize`."""

    name = "tangent"

    def __init__(self, keep: Sequence[int] | None = None, transpose: bool = False):
        self.keep = None if keep is None else tuple(int(i) for i in keep)
        self.transposed = bool(transpose)

    def kept(self, state: State) -> tuple[int, ...]:
        """Indices of the state tensors that span the tangent space (all when keep is None)."""
        if self.keep is None:
            return tuple(range(len(state)))
        bad = [i for i in self.keep if not 0 <= i < len(state)]
        if bad or not self.keep:
            raise ValueError(f"keep={self.keep} does not select tensors of a state with {len(state)} tensors")
        return self.keep

    def dim(self, state: State) -> int:
        """n: the dimension of the tangent space at this state."""
        return sum(state[i].shape[1] for i in self.kept(state))

    @abc.abstractmethod
    def advance(self, x_t: Tensor, state: State) -> State:
        """The map alone, no derivatives: the state warm-up."""

    @abc.abstractmethod
    def linearize(self, x_t: Tensor, state: State) -> tuple[State, Push]:
        """(next state, V -> J V) at (state, x_t); V -> J^T V when `transposed`."""


class AutogradTangent(TangentMap):
    """Tangents by forward-mode AD (torch.func.jvp, vmapped over columns); J^T V by a vmapped vjp.

    The products are computed in the state's dtype; a float64 frame is cast down for the jvp and
    the result cast back. Run the map itself in float64 for float64 products.
    """

    name = "autograd"

    def __init__(self, step: Step, keep: Sequence[int] | None = None, transpose: bool = False):
        super().__init__(keep, transpose)
        self.step = step

    def advance(self, x_t: Tensor, state: State) -> State:
        with torch.no_grad():
            return tuple(self.step(x_t, state))

    def linearize(self, x_t: Tensor, state: State) -> tuple[State, Push]:
        keep = self.kept(state)
        primals = tuple(state[i] for i in keep)  # each (B, n_i)
        sizes = [p.shape[1] for p in primals]
        dtype = primals[0].dtype

        def restricted(*kept_state: Tensor) -> tuple[Tensor, ...]:
            # F with the tensors outside `keep` held fixed: they enter as constants.
            full = list(state)
            for i, s in zip(keep, kept_state):
                full[i] = s
            out = self.step(x_t, tuple(full))
            return tuple(out[i] for i in keep)

        # torch.func differentiates w.r.t. the primals whatever the grad mode; no_grad only stops
        # ordinary autograd from recording graphs for the parameters.
        if self.transposed:
            with torch.no_grad():
                _, pullback = torch.func.vjp(restricted, *primals)
            columns = torch.func.vmap(pullback, in_dims=(2,), out_dims=2)

            @torch.no_grad()
            def push(V: Tensor) -> Tensor:  # V (B, n, k) -> J^T V (B, n, k)
                cotangents = tuple(V.to(dtype).split(sizes, dim=1))  # each (B, n_i, k)
                return torch.cat(columns(cotangents), dim=1).to(V.dtype)
        else:
            def one_column(*tangents: Tensor) -> tuple[Tensor, ...]:
                return torch.func.jvp(restricted, primals, tangents)[1]

            columns = torch.func.vmap(one_column, in_dims=2, out_dims=2)

            @torch.no_grad()
            def push(V: Tensor) -> Tensor:  # V (B, n, k) -> J V (B, n, k)
                tangents = V.to(dtype).split(sizes, dim=1)  # each (B, n_i, k)
                return torch.cat(columns(*tangents), dim=1).to(V.dtype)

        return self.advance(x_t, state), push
