"""The interface every language model in hyperprune exposes (docs/design.md, "models").

A model is embedding -> stack of recurrent layers -> decoder. Its state is one flat tuple of
`(B, n_i)` tensors, the layers' states in order, so that the trainer can carry it across batches
and the Lyapunov engine can treat `step` as a map from state to state.
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor, nn

State = tuple[Tensor, ...]


def detach_state(state: State) -> State:
    """Cut the graph between batches (truncated BPTT) while keeping the values."""
    return tuple(s.detach() for s in state)


class RecurrentLM(nn.Module, abc.ABC):
    """Base class: subclasses build `embedding`, `layers`, `decoder` and write `forward` and `decode`.

    `step` here is shared by every family: embed one token, then run each layer's cell once.
    It applies no dropout of any kind, so it is the deterministic map the Lyapunov engine needs;
    with the model in eval mode it agrees with `forward`.
    """

    embedding: nn.Embedding
    layers: nn.ModuleList
    decoder: nn.Linear

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size

    # --- state -----------------------------------------------------------------------------

    def state_kinds(self) -> tuple[str, ...]:
        """Per state tensor: "h" (fed to the next layer / decoder) or "c" (LSTM cell)."""
        return tuple(kind for layer in self.layers for kind in layer.state_kinds())

    def init_state(self, batch_size: int) -> State:
        weight = self.embedding.weight
        return tuple(
            torch.zeros(batch_size, layer.hidden_size, device=weight.device, dtype=weight.dtype)
            for layer in self.layers
            for _ in layer.state_kinds()
        )

    def split_state(self, state: State) -> list[State]:
        """The flat state cut into one tuple per layer."""
        expected = len(self.state_kinds())
        if len(state) != expected:
            raise ValueError(f"state has {len(state)} tensors, this model needs {expected}")
        per_layer, start = [], 0
        for layer in self.layers:
            n = len(layer.state_kinds())
            per_layer.append(tuple(state[start:start + n]))
            start += n
        return per_layer

    # --- computation -----------------------------------------------------------------------

    @abc.abstractmethod
    def forward(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """tokens (T, B) long -> logits (T, B, V) and the state after the last token."""

    @abc.abstractmethod
    def decode(self, output: Tensor) -> Tensor:
        """Top-layer hidden states (..., H_last) -> logits (..., V); no dropout before it."""

    def step(self, x_t: Tensor, state: State) -> State:
        """One token x_t (B,) long through embedding and every layer's cell; no decoder."""
        x = self.embedding(x_t)  # (B, E)
        new_state: list[Tensor] = []
        for layer, layer_state in zip(self.layers, self.split_state(state)):
            layer_state = layer.step(x, layer_state)
            new_state.extend(layer_state)
            x = layer_state[0]  # (B, H_l): the layer's h feeds the next layer
        return tuple(new_state)

    def penalty(self) -> Tensor:
        """Regularisation to add to the loss after the last `forward`; none by default."""
        return torch.zeros((), device=self.embedding.weight.device, dtype=self.embedding.weight.dtype)

    # --- sparsity --------------------------------------------------------------------------

    def sparsifiable(self) -> dict[str, tuple[str, nn.Parameter]]:
        """Parameter name -> (group, weight) for every maskable matrix; biases never appear.

        A decoder tied to the embedding appears once, as the embedding.
        """
        groups: dict[str, tuple[str, nn.Parameter]] = {"embedding.weight": ("embedding", self.embedding.weight)}
        for i, layer in enumerate(self.layers):
            groups[f"layers.{i}.weight_ih"] = ("recurrent", layer.weight_ih)
            groups[f"layers.{i}.weight_hh"] = ("recurrent", layer.weight_hh)
        for name, weight in self.decoder_weights().items():
            if not any(weight is w for _, w in groups.values()):
                groups[name] = ("decoder", weight)
        return groups

    def decoder_weights(self) -> dict[str, nn.Parameter]:
        """Name -> weight of the output head's matrices (overridden by heads with more than one)."""
        return {"decoder.weight": self.decoder.weight}
