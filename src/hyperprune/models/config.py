"""Every knob of a recurrent language model. `None` means: take it from the preset."""

from __future__ import annotations

from dataclasses import dataclass

from hyperprune.config import check_choice, check_range


@dataclass
class ModelConfig:
    preset: str | None = "lstm-small"  # see hyperprune.models.presets.PRESETS
    family: str | None = None          # lstm | gru | rnn | rhn | awd-lstm
    emb_size: int | None = None
    hidden_size: int | None = None
    last_hidden_size: int | None = None  # last layer's size; default emb_size when tied (AWD), else hidden_size
    num_layers: int | None = None
    depth: int | None = None           # RHN recurrence depth (micro-steps per token)
    dropout: float | None = None       # Zaremba: embedding output, between layers, before decoder; AWD/RHN: before decoder
    dropout_input: float | None = None      # AWD/RHN: locked dropout on the embedding output
    dropout_hidden: float | None = None     # AWD: locked dropout between layers; RHN: on the recurrent state
    dropout_embedding: float | None = None  # AWD/RHN: drop whole words from the embedding
    weight_drop: float | None = None        # AWD: DropConnect on the hidden-to-hidden matrices
    dropout_latent: float | None = None     # MoS: dropout on the latent contexts
    n_experts: int | None = None       # MoS experts; 0: a plain softmax head
    tie_weights: bool | None = None
    init_range: float | None = None    # uniform(-r, r) initialisation
    # lstm/gru/rnn: "uniform" draws every parameter from U(-r, r) (Zaremba et al. 2014); "word-lm" only
    # the embedding and decoder weights, with a zero decoder bias and PyTorch's U(+-1/sqrt(H)) for the
    # recurrent layers (pytorch/examples word_language_model; the LSH paper's models.py:202-216).
    # rhn: "uniform" also starts the transform bias at -2 (Zilly et al.); "word-lm" leaves the highway
    # projections at nn.Linear's default, as Selfish-RNN's RHN (models.py:138-142). awd-lstm has its own rule.
    init: str | None = None
    ar_alpha: float | None = None      # AWD activation regularisation
    tar_beta: float | None = None      # AWD temporal activation regularisation

    def validate(self) -> None:
        for key in ("emb_size", "hidden_size", "last_hidden_size", "num_layers", "depth"):
            value = getattr(self, key)
            if value is not None:
                check_range(f"model.{key}", value, 1)
        for key in ("dropout", "dropout_input", "dropout_hidden", "dropout_embedding",
                    "weight_drop", "dropout_latent"):
            value = getattr(self, key)
            if value is not None:
                check_range(f"model.{key}", value, 0.0, 1.0, high_open=True)
        if self.n_experts is not None:
            check_range("model.n_experts", self.n_experts, 0)
        if self.init_range is not None:
            check_range("model.init_range", self.init_range, 0.0, low_open=True)
        if self.init is not None:
            check_choice("model.init", self.init, ["uniform", "word-lm"])
        for key in ("ar_alpha", "tar_beta"):
            value = getattr(self, key)
            if value is not None:
                check_range(f"model.{key}", value, 0.0)
