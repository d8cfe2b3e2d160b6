"""From a (partial) ModelConfig to a model."""

from __future__ import annotations

from hyperprune.models.awd import AWDLSTM
from hyperprune.models.base import RecurrentLM
from hyperprune.models.config import ModelConfig
from hyperprune.models.presets import layer_sizes, resolve_model_config
from hyperprune.models.rhn import RHNLM
from hyperprune.models.stacked import StackedRNNLM


def build_model(cfg: ModelConfig, vocab_size: int) -> RecurrentLM:
    """The model `cfg` describes (resolved against its preset first), on the CPU, in float32."""
    cfg = resolve_model_config(cfg)
    sizes = layer_sizes(cfg)
    if cfg.family in ("lstm", "gru", "rnn"):
        return StackedRNNLM(cfg.family, vocab_size, cfg.emb_size, sizes, dropout=cfg.dropout,
                            tie_weights=cfg.tie_weights, init_range=cfg.init_range, init=cfg.init)
    if cfg.family == "rhn":
        return RHNLM(vocab_size, cfg.emb_size, sizes, cfg.depth, dropout=cfg.dropout,
                     dropout_input=cfg.dropout_input, dropout_hidden=cfg.dropout_hidden,
                     dropout_embedding=cfg.dropout_embedding, tie_weights=cfg.tie_weights,
                     init_range=cfg.init_range, init=cfg.init)
    return AWDLSTM(vocab_size, cfg.emb_size, sizes, dropout=cfg.dropout, dropout_input=cfg.dropout_input,
                   dropout_hidden=cfg.dropout_hidden, dropout_embedding=cfg.dropout_embedding,
                   weight_drop=cfg.weight_drop, tie_weights=cfg.tie_weights, n_experts=cfg.n_experts,
                   dropout_latent=cfg.dropout_latent, init_range=cfg.init_range,
                   ar_alpha=cfg.ar_alpha, tar_beta=cfg.tar_beta)
