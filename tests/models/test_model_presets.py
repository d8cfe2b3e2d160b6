"""Presets and the resolution rule: family defaults < preset < explicit fields."""

import dataclasses

import pytest

from hyperprune.config import from_dict
from hyperprune.errors import UserError
from hyperprune.models import PRESETS, ModelConfig, resolve_model_config


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_resolves_with_every_field_filled(preset):
    cfg = resolve_model_config(ModelConfig(preset=preset))
    assert all(getattr(cfg, f.name) is not None for f in dataclasses.fields(cfg))
    assert resolve_model_config(cfg) == cfg  # idempotent
    for key, value in PRESETS[preset].items():
        assert getattr(cfg, key) == value


def test_zaremba_presets():
    small = resolve_model_config(ModelConfig(preset="lstm-small"))
    assert (small.family, small.emb_size, small.hidden_size, small.num_layers) == ("lstm", 200, 200, 2)
    assert (small.dropout, small.init_range, small.tie_weights) == (0.0, 0.1, False)
    medium = resolve_model_config(ModelConfig(preset="lstm-medium"))
    assert (medium.hidden_size, medium.dropout, medium.init_range) == (650, 0.5, 0.05)
    assert (small.init, medium.init) == ("uniform", "uniform")
    large = resolve_model_config(ModelConfig(preset="lstm-large"))
    # the LSH paper's initialisation (models.py:202-216), not Zaremba's U(+-0.04)
    assert (large.hidden_size, large.last_hidden_size, large.dropout) == (1500, 1500, 0.65)
    assert (large.init, large.init_range) == ("word-lm", 0.1)
    assert (large.depth, large.weight_drop, large.n_experts, large.ar_alpha) == (1, 0.0, 0, 0.0)


def test_mos_wt2_preset_has_the_papers_shapes():
    cfg = resolve_model_config(ModelConfig(preset="awd-lstm-mos-wt2"))
    assert (cfg.emb_size, cfg.hidden_size, cfg.last_hidden_size, cfg.num_layers, cfg.n_experts) == (
        300, 1150, 650, 3, 15)
    assert (cfg.weight_drop, cfg.ar_alpha, cfg.tar_beta, cfg.tie_weights) == (0.5, 2.0, 1.0, True)


def test_explicit_fields_win_over_the_preset():
    cfg = resolve_model_config(ModelConfig(preset="lstm-medium", hidden_size=100, dropout=0.1, tie_weights=True))
    assert (cfg.hidden_size, cfg.emb_size, cfg.dropout, cfg.tie_weights) == (100, 100, 0.1, True)
    assert cfg.init_range == 0.05  # still from the preset
    cfg = resolve_model_config(from_dict(ModelConfig, {"preset": "rhn-paper", "depth": 4, "hidden_size": 300}))
    assert (cfg.depth, cfg.hidden_size, cfg.emb_size, cfg.last_hidden_size) == (4, 300, 300, 300)


def test_family_without_preset_takes_family_defaults():
    cfg = resolve_model_config(ModelConfig(preset=None, family="awd-lstm"))
    assert (cfg.emb_size, cfg.hidden_size, cfg.last_hidden_size, cfg.num_layers) == (400, 1150, 400, 3)
    cfg = resolve_model_config(ModelConfig(preset=None, family="gru", hidden_size=10))
    assert (cfg.family, cfg.emb_size, cfg.hidden_size, cfg.num_layers, cfg.tie_weights) == ("gru", 10, 10, 2, False)


def test_awd_last_layer_matches_embedding_when_tied():
    cfg = resolve_model_config(ModelConfig(preset="awd-lstm-small", emb_size=20))
    assert cfg.last_hidden_size == 20
    cfg = resolve_model_config(ModelConfig(preset="awd-lstm-small", tie_weights=False))
    assert cfg.last_hidden_size == cfg.hidden_size == 64


def test_unknown_preset_is_a_user_error_naming_it_and_the_closest():
    with pytest.raises(UserError, match="lstm-smal'.*did you mean 'lstm-small'"):
        resolve_model_config(ModelConfig(preset="lstm-smal"))


def test_unknown_family_is_a_user_error():
    with pytest.raises(UserError, match="unknown model.family 'lsmt'.*did you mean 'lstm'"):
        resolve_model_config(ModelConfig(preset=None, family="lsmt"))
    with pytest.raises(UserError, match="model.family is not set"):
        resolve_model_config(ModelConfig(preset=None))


def test_knob_of_another_family_is_a_user_error():
    with pytest.raises(UserError, match="model.weight_drop = 0.3 is not used by family 'lstm'.*awd-lstm"):
        resolve_model_config(ModelConfig(preset="lstm-small", weight_drop=0.3))
    resolve_model_config(ModelConfig(preset="lstm-small", weight_drop=0.0))  # the neutral value is fine


def test_tying_needs_matching_sizes():
    with pytest.raises(UserError, match="tie_weights needs the last layer's size \\(50\\).*emb_size \\(32\\)"):
        resolve_model_config(ModelConfig(preset="awd-lstm-small", last_hidden_size=50))


def test_out_of_range_values_are_user_errors():
    with pytest.raises(UserError, match="model.dropout = 1.0 is out of range"):
        from_dict(ModelConfig, {"dropout": 1.0})
    with pytest.raises(UserError, match="unknown config key 'hiden_size'.*hidden_size"):
        from_dict(ModelConfig, {"hiden_size": 3})


def test_init_applies_to_stacked_families_and_rhn_only():
    # rhn reads it since its paper recipe needs Selfish-RNN's initialisation (tests/models/test_rhn_init.py)
    assert resolve_model_config(ModelConfig(preset="rhn-small", init="word-lm")).init == "word-lm"
    with pytest.raises(UserError, match="model.init = word-lm is not used by family 'awd-lstm'"):
        resolve_model_config(ModelConfig(preset="awd-lstm-small", init="word-lm"))
    with pytest.raises(UserError, match="did you mean 'word-lm'"):
        resolve_model_config(from_dict(ModelConfig, {"preset": "lstm-tiny", "init": "word_lm"}))
