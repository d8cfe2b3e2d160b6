"""Spectra of stock torch.nn recurrent modules (hyperprune.lyapunov.torch_modules)."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from hyperprune.errors import UserError
from hyperprune.lyapunov import make_probe, model_spectrum
from hyperprune.lyapunov.torch_modules import module_spectrum, module_view

TORCH_RNN = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
PRESET = {"lstm": "lstm-tiny", "gru": "gru-small", "rnn": "rnn-small"}
VOCAB = 50


class UserLM(nn.Module):
    """What a user's own LM looks like: embedding, a torch RNN, a decoder."""

    def __init__(self, rnn: nn.RNNBase, vocab: int = VOCAB):
        super().__init__()
        self.embed = nn.Embedding(vocab, rnn.input_size)
        self.drop = nn.Dropout(0.3)
        self.rnn = rnn
        self.out = nn.Linear(rnn.hidden_size, vocab)


def twin_of(model, kind: str) -> UserLM:
    """A UserLM around a torch RNN holding exactly the weights of our StackedRNNLM `model`."""
    layers = model.layers
    rnn = TORCH_RNN[kind](layers[0].input_size, layers[0].hidden_size, num_layers=len(layers)).double()
    lm = UserLM(rnn).double()
    with torch.no_grad():
        lm.embed.weight.copy_(model.embedding.weight)
        for l, layer in enumerate(layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(rnn, f"{name}_l{l}").copy_(getattr(layer, name))
    return lm


@pytest.fixture
def probe(token_ids):
    return make_probe(token_ids(), n_sequences=2, length=16, warmup=6)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("convention", ["standard", "reference"])
def test_torch_module_and_our_layers_with_the_same_weights_give_the_same_spectrum(small_model, probe, kind,
                                                                                  convention):
    ours = small_model(PRESET[kind])
    theirs = twin_of(ours, kind)
    expected = model_spectrum(ours, probe, convention=convention)
    result = module_spectrum(theirs, probe, convention=convention)
    torch.testing.assert_close(result.exponents, expected.exponents, atol=1e-12, rtol=0)
    assert result.method == expected.method == "analytic"
    assert (result.n, result.k, result.steps, result.log_base) == (expected.n, expected.k, expected.steps,
                                                                   expected.log_base)
    assert result.model["module"] == f"torch.nn.{TORCH_RNN[kind].__name__}" and result.model["class"] == "UserLM"
    # the autograd tangent of the same view agrees: the view's step is the map differentiated
    auto = module_spectrum(theirs, probe, convention=convention, method="autograd")
    torch.testing.assert_close(auto.exponents, expected.exponents, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "relu"])
def test_the_view_steps_exactly_as_the_torch_module_runs(kind):
    torch.manual_seed(1)
    rnn = (nn.RNN(5, 7, num_layers=3, nonlinearity="relu") if kind == "relu"
           else TORCH_RNN[kind](5, 7, num_layers=3)).double()
    x = torch.randn(9, 4, 5, dtype=torch.float64)
    core, probe = module_view(rnn, x)
    state = core.init_state(4)
    for x_t in probe.tokens:
        state = core.step(x_t, state)
    out = rnn(x)
    h_n = out[1][0] if kind == "lstm" else out[1]
    hidden = [s for s, k in zip(state, core.state_kinds()) if k == "h"]
    torch.testing.assert_close(torch.stack(hidden), h_n, atol=1e-12, rtol=0)
    if kind == "lstm":
        torch.testing.assert_close(torch.stack(state[1::2]), out[1][1], atol=1e-12, rtol=0)


def test_exponents_of_linear_regimes_are_the_logs_of_the_recurrent_weights():
    # tanh RNN at rest (zero input, bias, state): h stays 0, tanh'(0) = 1, so J_t = W_hh = diag(1/2, 1/4).
    rnn = nn.RNN(3, 2, bias=False).double()
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.diag(torch.tensor([0.5, 0.25])))
    x = torch.zeros(12, 1, 3, dtype=torch.float64)
    # (an identity frame: a random one would add a transient before it aligns with the axes)
    standard = module_spectrum(rnn, x, convention="standard", init="identity")
    assert standard.mean.tolist() == pytest.approx([math.log(0.5), math.log(0.25)], abs=1e-12)
    reference = module_spectrum(rnn, x, convention="reference", warmup=2)
    assert reference.mean.tolist() == pytest.approx([-1.0, -2.0], abs=1e-12)   # log2, J^T of a diagonal
    # ReLU RNN with a positive bias stays in its linear piece: J_t = diag(2, 1/2); autograd measures it.
    relu = nn.RNN(3, 2, nonlinearity="relu").double()
    with torch.no_grad():
        relu.weight_hh_l0.copy_(torch.diag(torch.tensor([2.0, 0.5])))
        relu.weight_ih_l0.zero_()
        relu.bias_ih_l0.fill_(1.0)
        relu.bias_hh_l0.zero_()
    result = module_spectrum(relu, x, init="identity")
    assert result.method == "autograd"
    assert result.mean.tolist() == pytest.approx([math.log(2.0), math.log(0.5)], abs=1e-12)


def test_batch_first_gives_the_same_spectrum_as_time_first(probe):
    torch.manual_seed(2)
    time_first = nn.GRU(6, 8, num_layers=2).double()
    batch_first = nn.GRU(6, 8, num_layers=2, batch_first=True).double()
    batch_first.load_state_dict(time_first.state_dict())
    x = torch.randn(20, 3, 6, dtype=torch.float64)                  # (T, B, I)
    a = module_spectrum(time_first, x, warmup=4)
    b = module_spectrum(batch_first, x.transpose(0, 1), warmup=4)   # (B, T, I)
    assert torch.equal(a.exponents, b.exponents) and a.steps == 16
    # token ids: a Probe is always time first; a tensor follows batch_first
    emb = nn.Embedding(VOCAB, 6).double()
    c = module_spectrum(time_first, probe.tokens, embedding=emb, warmup=probe.warmup, convention="reference")
    d = module_spectrum(batch_first, probe.tokens.t(), embedding=emb, warmup=probe.warmup, convention="reference")
    e = module_spectrum(batch_first, probe, embedding=emb, convention="reference")
    assert torch.equal(c.exponents, d.exponents) and torch.equal(c.exponents, e.exponents)


def test_a_model_with_dropout_is_measured_in_eval_mode_and_left_in_its_own_modes(small_model, probe):
    ours = small_model("lstm-tiny")
    plain = twin_of(ours, "lstm")
    dropped = twin_of(ours, "lstm")
    dropped.rnn.dropout = 0.5                                          # between the two layers
    dropped.train()
    dropped.out.eval()                                                 # mixed modes come back as they were
    seen, modes = [], []
    dropped.drop.register_forward_pre_hook(lambda m, args: seen.append(m.training))
    dropped.embed.register_forward_pre_hook(                           # the modes while it is measured
        lambda m, args: modes.append((dropped.training, dropped.rnn.training, dropped.drop.training)))
    expected = module_spectrum(plain, probe)
    result = module_spectrum(dropped, probe)
    assert torch.equal(result.exponents, expected.exponents)
    assert modes and set(modes) == {(False, False, False)}
    assert dropped.training and dropped.rnn.training and dropped.drop.training and not dropped.out.training
    assert seen == []                                                  # the map is embedding -> RNN only


def test_the_view_reads_the_modules_current_weights_not_a_copy():
    torch.manual_seed(3)
    lstm = nn.LSTM(4, 5).double()
    x = torch.randn(10, 2, 4, dtype=torch.float64)
    core, _ = module_view(lstm, x)
    assert core.layers[0].weight_hh is lstm.weight_hh_l0 and core.layers[0].bias_ih is lstm.bias_ih_l0
    before = module_spectrum(lstm, x)
    with torch.no_grad():
        lstm.weight_hh_l0.mul_(3.0)
    after = module_spectrum(lstm, x)
    assert not torch.allclose(before.exponents, after.exponents)


def test_a_lstm_without_bias_and_float32():
    torch.manual_seed(4)
    lstm = nn.LSTM(4, 5, num_layers=2, bias=False)
    x = torch.randn(10, 2, 4, dtype=torch.float64)                    # cast to the module's float32
    result = module_spectrum(lstm, x, convention="reference", warmup=3)
    assert result.method == "analytic" and result.state_dtype == "float32" and result.all_finite


@pytest.mark.parametrize("model, inputs, message", [
    (nn.Linear(3, 3), torch.zeros(5, 1, 3), "holds 0 nn.LSTM/nn.GRU/nn.RNN"),
    (nn.LSTM(3, 4, bidirectional=True), torch.zeros(5, 1, 3), "bidirectional=True"),
    (nn.LSTM(3, 4, proj_size=2), torch.zeros(5, 1, 3), "proj_size=2"),
    (nn.LSTM(3, 4), torch.zeros(5, 1, 2), "do not fit LSTM(input_size=3)"),
    (nn.LSTM(3, 4), torch.zeros(5, 3), "do not fit"),
    (nn.LSTM(3, 4), torch.zeros(5, 1, dtype=torch.long), "need the nn.Embedding"),
    (nn.Sequential(nn.LSTM(3, 4), nn.GRU(4, 4)), torch.zeros(5, 1, 3), "holds 2"),
    (UserLM(nn.LSTM(3, 4)), torch.full((5, 1), VOCAB), "token ids span 50..50"),
    (UserLM(nn.LSTM(3, 4)), torch.zeros(5, 1, 3), "features were given together"),
    (nn.LSTMCell(3, 4), torch.zeros(5, 1, 3), "holds 0"),
])
def test_bad_modules_and_inputs_are_one_line_errors(model, inputs, message):
    with pytest.raises(UserError, match=re.escape(message)) as error:
        module_spectrum(model, inputs, embedding=model.embed if message.startswith("features") else None)
    assert "\n" not in str(error.value)


def test_a_named_rnn_among_several_is_measured():
    torch.manual_seed(5)
    model = nn.Sequential(nn.LSTM(3, 4), nn.GRU(4, 4))
    x = torch.randn(8, 1, 4, dtype=torch.float32)
    result = module_spectrum(model, x, rnn="1")
    assert result.model["module"] == "torch.nn.GRU" and result.n == 4
    with pytest.raises(UserError, match="no submodule 'rnn'"):
        module_spectrum(model, x, rnn="rnn")
