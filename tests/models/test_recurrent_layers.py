"""Layers: fused forward equals torch.nn's reference modules, and step equals forward."""

import pytest
import torch
from torch import nn

from hyperprune.models.layers import GRULayer, LSTMLayer, RNNLayer
from hyperprune.models.rhn import RHNLayer

T, B, I, H = 7, 3, 5, 4


def _copy_into(reference: nn.Module, layer: nn.Module) -> None:
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(reference, f"{name}_l0").copy_(getattr(layer, name))


@pytest.mark.parametrize("layer_cls, reference_cls", [
    (LSTMLayer, nn.LSTM), (GRULayer, nn.GRU), (RNNLayer, nn.RNN),
])
def test_layer_forward_equals_torch_nn(layer_cls, reference_cls):
    torch.manual_seed(0)
    layer = layer_cls(I, H).double()
    reference = reference_cls(I, H).double()
    _copy_into(reference, layer)
    x = torch.randn(T, B, I, dtype=torch.float64)
    state = tuple(torch.randn(B, H, dtype=torch.float64) for _ in layer.state_kinds())

    output, new_state = layer(x, state)
    ref_state = tuple(s[None] for s in state)
    ref_output, ref_new = reference(x, ref_state if len(state) > 1 else ref_state[0])
    ref_new = ref_new if isinstance(ref_new, tuple) else (ref_new,)

    torch.testing.assert_close(output, ref_output, atol=1e-12, rtol=0)
    for s, r in zip(new_state, ref_new):
        torch.testing.assert_close(s, r[0], atol=1e-12, rtol=0)


@pytest.mark.parametrize("make_layer", [
    lambda: LSTMLayer(I, H), lambda: GRULayer(I, H), lambda: RNNLayer(I, H), lambda: RHNLayer(I, H, depth=3),
])
def test_layer_step_equals_forward(make_layer):
    torch.manual_seed(1)
    layer = make_layer().double().eval()
    x = torch.randn(T, B, I, dtype=torch.float64)
    state = tuple(torch.randn(B, H, dtype=torch.float64) for _ in layer.state_kinds())

    output, final = layer(x, state)
    stepped = state
    for t in range(T):
        stepped = layer.step(x[t], stepped)
        torch.testing.assert_close(stepped[0], output[t], atol=1e-12, rtol=0)
    for s, f in zip(stepped, final):
        torch.testing.assert_close(s, f, atol=1e-12, rtol=0)


def test_layer_parameter_shapes_follow_pytorch():
    lstm, gru, rnn, rhn = LSTMLayer(I, H), GRULayer(I, H), RNNLayer(I, H), RHNLayer(I, H, depth=3)
    assert (lstm.weight_ih.shape, lstm.weight_hh.shape, lstm.bias_ih.shape) == ((4 * H, I), (4 * H, H), (4 * H,))
    assert (gru.weight_ih.shape, gru.weight_hh.shape) == ((3 * H, I), (3 * H, H))
    assert (rnn.weight_ih.shape, rnn.weight_hh.shape) == ((H, I), (H, H))
    assert (rhn.weight_ih.shape, rhn.weight_hh.shape, rhn.bias_hh.shape) == ((2 * H, I), (3 * 2 * H, H), (3 * 2 * H,))
    assert [l.kind for l in (lstm, gru, rnn, rhn)] == ["lstm", "gru", "rnn", "rhn"]
    assert (rhn.input_size, rhn.hidden_size) == (I, H)


def test_rhn_transform_bias_starts_carrying():
    rhn = RHNLayer(I, H, depth=2)
    bias = rhn.bias_hh.view(2, 2, H)
    assert torch.all(bias[:, 0] == 0.0) and torch.all(bias[:, 1] == -2.0)


def test_rhn_with_depth_one_and_zero_input_weights_is_a_highway_cell():
    """Depth 1: s' = tanh(R_H s + b_H + W_H x) t + s (1 - t), checked against the formula by hand."""
    torch.manual_seed(2)
    rhn = RHNLayer(I, H, depth=1).double()
    x, s = torch.randn(B, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    pre = x @ rhn.weight_ih.T + rhn.bias_ih + s @ rhn.weight_hh.T + rhn.bias_hh
    h, t = torch.tanh(pre[:, :H]), torch.sigmoid(pre[:, H:])
    torch.testing.assert_close(rhn.step(x, (s,))[0], h * t + s * (1 - t), atol=1e-14, rtol=0)

    # zero input weights: the input no longer enters, s' = tanh(R_H s + b_H) t + s (1 - t), t from s alone
    with torch.no_grad():
        rhn.weight_ih.zero_()
        rhn.bias_ih.zero_()
    pre = s @ rhn.weight_hh.T + rhn.bias_hh
    h, t = torch.tanh(pre[:, :H]), torch.sigmoid(pre[:, H:])
    highway = h * t + s * (1 - t)
    for drive in (x, torch.randn(B, I, dtype=torch.float64), torch.zeros(B, I, dtype=torch.float64)):
        torch.testing.assert_close(rhn.step(drive, (s,))[0], highway, atol=1e-14, rtol=0)


def test_weight_drop_changes_recurrent_weight_in_training_only():
    torch.manual_seed(3)
    layer = LSTMLayer(I, H, weight_drop=0.5)
    layer.train()
    dropped = layer.recurrent_weight()
    zeros = (dropped == 0).float().mean().item()
    assert 0.3 < zeros < 0.7
    kept = dropped != 0
    torch.testing.assert_close(dropped[kept], layer.weight_hh[kept] * 2.0)  # scaled by 1 / (1 - p)
    layer.eval()
    assert layer.recurrent_weight() is layer.weight_hh


def test_weight_drop_reaches_the_fused_forward():
    torch.manual_seed(4)
    layer = LSTMLayer(I, H, weight_drop=0.5).double()
    x = torch.randn(T, B, I, dtype=torch.float64)
    state = tuple(torch.zeros(B, H, dtype=torch.float64) for _ in range(2))
    layer.eval()
    out_eval, _ = layer(x, state)
    layer.train()
    out_train, _ = layer(x, state)
    assert (out_train - out_eval).abs().max() > 1e-3
    layer.weight_hh.grad = None
    out_train.sum().backward()
    assert layer.weight_hh.grad is not None and (layer.weight_hh.grad == 0).any()


def test_the_recurrent_lm_base_class_is_abstract():
    from hyperprune.models import RecurrentLM
    assert RecurrentLM.__abstractmethods__ == {"forward", "decode"}
    with pytest.raises(TypeError, match="abstract"):
        RecurrentLM(10)
