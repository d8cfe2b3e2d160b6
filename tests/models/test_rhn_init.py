"""RHN initialisation: Selfish-RNN's (`init: word-lm`, the paper recipe's) and hyperprune's own."""

from __future__ import annotations

import math

import torch

from hyperprune.models import ModelConfig, build_model


def rhn(**fields):
    torch.manual_seed(0)
    return build_model(ModelConfig(family="rhn", emb_size=48, hidden_size=48, num_layers=1, depth=3,
                                   tie_weights=True, **fields), 500)


def spans(t: torch.Tensor, bound: float) -> bool:
    """Every entry within +-bound and the extremes near it: a uniform draw on exactly that interval."""
    return t.abs().max().item() <= bound and t.max().item() > 0.95 * bound and t.min().item() < -0.95 * bound


def test_word_lm_is_nn_linear_default_in_the_highway_and_0_1_outside():
    model = rhn(init="word-lm", init_range=0.1)
    layer = model.layers[0]
    fan_in = 1 / math.sqrt(48)
    for p in (layer.weight_ih, layer.bias_ih, layer.weight_hh, layer.bias_hh):
        assert spans(p.detach(), fan_in)
    # no transform-gate bias: the micro-steps' transform biases are centred on 0, not -2
    transform = layer.bias_hh.detach().view(3, 2, 48)[:, 1]
    assert abs(transform.mean().item()) < 0.05
    assert spans(model.embedding.weight.detach(), 0.1) and model.decoder.weight is model.embedding.weight
    assert torch.count_nonzero(model.decoder.bias) == 0


def test_uniform_keeps_hyperprunes_own_rule():
    model = rhn(init_range=0.04)
    layer = model.layers[0]
    assert spans(layer.weight_ih.detach(), 0.04) and spans(layer.weight_hh.detach(), 0.04)
    bias = layer.bias_hh.detach().view(3, 2, 48)
    assert torch.equal(bias[:, 1], torch.full((3, 48), -2.0)) and torch.count_nonzero(bias[:, 0]) == 0
    assert torch.count_nonzero(layer.bias_ih) == 0


def test_the_paper_recipe_uses_selfish_rnns_init():
    from hyperprune.search import load_search_config
    cfg = load_search_config("configs/paper/rhn-ptb.yaml")
    assert (cfg.model.init, cfg.model.init_range) == ("word-lm", 0.1)
