"""AWD-LSTM language model (Merity, Keskar & Socher 2018), optionally with a Mixture-of-Softmaxes head.

Regularisation, all in training mode only:
- embedding dropout: whole words removed from the embedding matrix (dropout_embedding);
- locked (variational) dropout on the embedding output (dropout_input), between layers
  (dropout_hidden) and on the last layer's output (dropout);
- weight drop: DropConnect on every weight_hh, once per forward (weight_drop);
- activation regularisation AR = alpha * mean(dropped_out^2) and temporal AR
  TAR = beta * mean((h_t - h_{t-1})^2) on the last layer, returned by `penalty()`.
With tied weights and a plain softmax, the last layer has emb_size units so it can feed the decoder.
"""

from __future__ import annotations

from torch import Tensor, nn

from hyperprune.models.base import RecurrentLM, State
from hyperprune.models.dropout import embedding_dropout, locked_dropout
from hyperprune.models.layers import LSTMLayer
from hyperprune.models.mos import MixtureOfSoftmaxes


class AWDLSTM(RecurrentLM):
    def __init__(self, vocab_size: int, emb_size: int, hidden_sizes: list[int], *,
                 dropout: float = 0.4, dropout_input: float = 0.4, dropout_hidden: float = 0.25,
                 dropout_embedding: float = 0.1, weight_drop: float = 0.5, tie_weights: bool = True,
                 n_experts: int = 0, dropout_latent: float = 0.0, init_range: float = 0.1,
                 ar_alpha: float = 2.0, tar_beta: float = 1.0):
        super().__init__(vocab_size)
        self.dropout, self.dropout_input = dropout, dropout_input
        self.dropout_hidden, self.dropout_embedding = dropout_hidden, dropout_embedding
        self.ar_alpha, self.tar_beta = ar_alpha, tar_beta

        self.embedding = nn.Embedding(vocab_size, emb_size)
        input_sizes = [emb_size] + hidden_sizes[:-1]
        self.layers = nn.ModuleList(LSTMLayer(i, h, weight_drop) for i, h in zip(input_sizes, hidden_sizes))
        # With MoS the decoder reads the emb_size latent contexts; without, the last layer's output.
        self.mos = MixtureOfSoftmaxes(hidden_sizes[-1], emb_size, n_experts, dropout_latent) if n_experts else None
        decoder_in = emb_size if self.mos is not None else hidden_sizes[-1]
        if tie_weights and decoder_in != emb_size:
            raise ValueError(f"tied weights need decoder input {decoder_in} == emb_size {emb_size}")
        self.decoder = nn.Linear(decoder_in, vocab_size)

        nn.init.uniform_(self.embedding.weight, -init_range, init_range)
        nn.init.uniform_(self.decoder.weight, -init_range, init_range)
        nn.init.zeros_(self.decoder.bias)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        self._penalty: Tensor | None = None

    def forward(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        x = embedding_dropout(self.embedding.weight, tokens, self.dropout_embedding, self.training)  # (T, B, E)
        x = locked_dropout(x, self.dropout_input, self.training)
        new_state: list[Tensor] = []
        last = len(self.layers) - 1
        for i, (layer, layer_state) in enumerate(zip(self.layers, self.split_state(state))):
            raw, layer_state = layer(x, layer_state)  # (T, B, H_i)
            new_state.extend(layer_state)
            x = locked_dropout(raw, self.dropout if i == last else self.dropout_hidden, self.training)

        self._penalty = None
        if self.training:
            self._penalty = self.ar_alpha * x.pow(2).mean() + self.tar_beta * (raw[1:] - raw[:-1]).pow(2).mean()
        return self.decode(x), tuple(new_state)

    def decode(self, output: Tensor) -> Tensor:
        if self.mos is not None:
            return self.mos(output, self.decoder)  # log-probabilities (..., V)
        return self.decoder(output)  # (..., V)

    def penalty(self) -> Tensor:
        """AR + TAR of the last training-mode forward; zero after an eval-mode forward."""
        return self._penalty if self._penalty is not None else super().penalty()

    def decoder_weights(self) -> dict[str, nn.Parameter]:
        weights = {"decoder.weight": self.decoder.weight}
        if self.mos is not None:
            weights.update({"mos.latent.weight": self.mos.latent.weight, "mos.prior.weight": self.mos.prior.weight})
        return weights
