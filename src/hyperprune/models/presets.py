"""Named model configurations, and the rule that turns a partial `ModelConfig` into a full one.

Resolution, lowest priority first: the family's defaults, the preset, the fields set explicitly.
"""

from __future__ import annotations

import dataclasses

from hyperprune.config import check_choice
from hyperprune.errors import UserError
from hyperprune.models.config import ModelConfig

FAMILIES = ("lstm", "gru", "rnn", "rhn", "awd-lstm")

# Preset name -> ModelConfig fields. Sizes left out are derived (emb_size = hidden_size, ...).
PRESETS: dict[str, dict] = {
    # Zaremba et al. 2014, PTB small / medium / large.
    "lstm-small": dict(family="lstm", hidden_size=200, num_layers=2, dropout=0.0, init_range=0.1,
                       tie_weights=False),
    "lstm-medium": dict(family="lstm", hidden_size=650, num_layers=2, dropout=0.5, init_range=0.05,
                        tie_weights=False),
    # Zaremba's large shape, initialised as the LSH paper's Stacked_LSTM (models.py:202-216): U(+-0.1)
    # embedding and decoder, zero decoder bias, PyTorch's LSTM default. Zaremba's own large model
    # draws everything from U(+-0.04): set `init: uniform, init_range: 0.04`.
    "lstm-large": dict(family="lstm", hidden_size=1500, num_layers=2, dropout=0.65, init="word-lm",
                       init_range=0.1, tie_weights=False),
    # Zilly et al. 2017, PTB variational RHN + WT: 830 units, depth 10 (drop_x/i/h/o = .25/.75/.25/.75).
    "rhn-paper": dict(family="rhn", hidden_size=830, num_layers=1, depth=10, dropout=0.75,
                      dropout_input=0.75, dropout_hidden=0.25, dropout_embedding=0.25,
                      tie_weights=True, init_range=0.04),
    # Merity et al. 2018, AWD-LSTM on PTB.
    "awd-lstm-ptb": dict(family="awd-lstm", emb_size=400, hidden_size=1150, num_layers=3,
                         dropout=0.4, dropout_input=0.4, dropout_hidden=0.25, dropout_embedding=0.1,
                         weight_drop=0.5, n_experts=0, tie_weights=True, init_range=0.1,
                         ar_alpha=2.0, tar_beta=1.0),
    # Yang et al. 2018, AWD-LSTM-MoS on WikiText-2 (README command line of zihangdai/mos).
    "awd-lstm-mos-wt2": dict(family="awd-lstm", emb_size=300, hidden_size=1150, last_hidden_size=650,
                             num_layers=3, dropout=0.4, dropout_input=0.55, dropout_hidden=0.2,
                             dropout_embedding=0.1, dropout_latent=0.29, weight_drop=0.5, n_experts=15,
                             tie_weights=True, init_range=0.1, ar_alpha=2.0, tar_beta=1.0),
    # Small CPU models, one per family: tests and smoke runs in seconds.
    "lstm-tiny": dict(family="lstm", hidden_size=32, num_layers=2, dropout=0.0, init_range=0.1,
                      tie_weights=False),
    "gru-small": dict(family="gru", hidden_size=64, num_layers=2, dropout=0.0, init_range=0.1,
                      tie_weights=False),
    "rnn-small": dict(family="rnn", hidden_size=64, num_layers=2, dropout=0.0, init_range=0.1,
                      tie_weights=False),
    "rhn-small": dict(family="rhn", hidden_size=64, num_layers=1, depth=3, dropout=0.2,
                      dropout_input=0.2, dropout_hidden=0.1, dropout_embedding=0.05,
                      tie_weights=True, init_range=0.04),
    "awd-lstm-small": dict(family="awd-lstm", emb_size=32, hidden_size=64, num_layers=3,
                           dropout=0.4, dropout_input=0.4, dropout_hidden=0.25, dropout_embedding=0.1,
                           weight_drop=0.5, n_experts=0, tie_weights=True, init_range=0.1,
                           ar_alpha=2.0, tar_beta=1.0),
    "awd-lstm-mos-small": dict(family="awd-lstm", emb_size=32, hidden_size=64, last_hidden_size=48,
                               num_layers=3, dropout=0.4, dropout_input=0.4, dropout_hidden=0.25,
                               dropout_embedding=0.1, dropout_latent=0.29, weight_drop=0.5, n_experts=4,
                               tie_weights=True, init_range=0.1, ar_alpha=2.0, tar_beta=1.0),
}

# Knobs a family reads, beyond the common ones; the others resolve to their neutral value.
_COMMON = ("emb_size", "hidden_size", "last_hidden_size", "num_layers", "dropout", "tie_weights", "init_range")
_USES = {
    "lstm": _COMMON + ("init",),
    "gru": _COMMON + ("init",),
    "rnn": _COMMON + ("init",),
    "rhn": _COMMON + ("init", "depth", "dropout_input", "dropout_hidden", "dropout_embedding"),
    "awd-lstm": _COMMON + ("dropout_input", "dropout_hidden", "dropout_embedding", "weight_drop",
                           "dropout_latent", "n_experts", "ar_alpha", "tar_beta"),
}
_NEUTRAL = dict(depth=1, dropout_input=0.0, dropout_hidden=0.0, dropout_embedding=0.0, weight_drop=0.0,
                dropout_latent=0.0, n_experts=0, ar_alpha=0.0, tar_beta=0.0, init="uniform")

# Used when neither the preset nor the user sets a knob the family reads.
_FAMILY_DEFAULTS = {
    "lstm": dict(hidden_size=200, num_layers=2, dropout=0.0, tie_weights=False, init_range=0.1),
    "gru": dict(hidden_size=200, num_layers=2, dropout=0.0, tie_weights=False, init_range=0.1),
    "rnn": dict(hidden_size=200, num_layers=2, dropout=0.0, tie_weights=False, init_range=0.1),
    "rhn": dict(hidden_size=830, num_layers=1, depth=10, dropout=0.0, dropout_input=0.0,
                dropout_hidden=0.0, dropout_embedding=0.0, tie_weights=True, init_range=0.04),
    "awd-lstm": PRESETS["awd-lstm-ptb"],
}


def preset_values(name: str) -> dict:
    """The fields preset `name` sets, or a one-line UserError naming it and the closest preset."""
    check_choice("model preset", name, PRESETS)
    return dict(PRESETS[name])


def resolve_model_config(cfg: ModelConfig) -> ModelConfig:
    """A copy of `cfg` with every field filled: family defaults, then the preset, then explicit fields."""
    explicit = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
                if f.name != "preset" and getattr(cfg, f.name) is not None}
    preset = preset_values(cfg.preset) if cfg.preset is not None else {}
    family = explicit.get("family", preset.get("family"))
    if family is None:
        raise UserError("model.family is not set and no model.preset gives one; "
                        f"set model.preset (one of {', '.join(PRESETS)}) or model.family")
    check_choice("model.family", family, FAMILIES)

    for key, value in explicit.items():
        if key in _NEUTRAL and key not in _USES[family] and value != _NEUTRAL[key]:
            users = [f for f, uses in _USES.items() if key in uses]
            raise UserError(f"model.{key} = {value} is not used by family '{family}'; "
                            f"it applies to: {', '.join(users)}")

    values = {**_NEUTRAL, **_FAMILY_DEFAULTS[family],
              **{k: v for k, v in preset.items() if k in _USES[family] or k == "family"}, **explicit}
    values["family"] = family
    if values.get("emb_size") is None:
        values["emb_size"] = values["hidden_size"]
    ties_last_layer = values["tie_weights"] and values["n_experts"] == 0
    if values.get("last_hidden_size") is None:
        # AWD-LSTM: with a tied softmax the last layer feeds the decoder, so it has emb_size units.
        values["last_hidden_size"] = values["emb_size"] if ties_last_layer else values["hidden_size"]
    if ties_last_layer and values["last_hidden_size"] != values["emb_size"]:
        raise UserError(f"model.tie_weights needs the last layer's size ({values['last_hidden_size']}) "
                        f"to equal model.emb_size ({values['emb_size']}); change one, or set tie_weights false")
    resolved = ModelConfig(preset=cfg.preset, **{k: values[k] for k in _field_names() if k != "preset"})
    resolved.validate()
    return resolved


def layer_sizes(cfg: ModelConfig) -> list[int]:
    """Hidden size of each layer of a resolved config: hidden_size, ..., last_hidden_size."""
    return [cfg.hidden_size] * (cfg.num_layers - 1) + [cfg.last_hidden_size]


def _field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(ModelConfig)]
