"""dense_reference and spectrum_distance on a user's plain nn.LSTM model."""

from __future__ import annotations

import copy
import json

import pytest
import torch

import hyperprune
from hyperprune import UserError, dense_reference, spectrum_distance
from user_world import UserLM, token_stream, train_epoch


def fresh_model(seed: int = 0, **kwargs) -> UserLM:
    torch.manual_seed(seed)
    return UserLM(**kwargs)


def test_the_reference_holds_the_dense_spectrum_after_each_epoch_of_training(probe, tmp_path):
    calls = []

    def counted(model, epoch):
        calls.append(epoch)
        train_epoch(model, epoch)

    dense = dense_reference(fresh_model(), probe, epochs=3, train_epoch=counted, cache=tmp_path)
    assert calls == [0, 1, 2] and dense.epochs == [0, 1, 2] and not dense.fixed
    # by hand: the same model trained the same way, measured after each epoch
    twin = fresh_model()
    for epoch in range(3):
        train_epoch(twin, epoch)
        expected = hyperprune.spectrum(twin, probe, convention="reference")
        assert torch.equal(dense.spectrum(epoch).exponents, expected.exponents)
    assert dense.spectrum(0).convention == "reference" and dense.spectrum(0).log_base == 2.0

    # a second call with the same inputs reads the file and trains nothing
    again = dense_reference(fresh_model(), probe, epochs=3, train_epoch=counted, cache=tmp_path)
    assert calls == [0, 1, 2] and again.path == dense.path
    assert all(torch.equal(again.spectrum(e).exponents, dense.spectrum(e).exponents) for e in range(3))
    # one more epoch: the model is trained from its start to it, and only that epoch is measured
    longer = dense_reference(fresh_model(), probe, epochs=4, train_epoch=counted, cache=tmp_path)
    assert calls == [0, 1, 2, 0, 1, 2, 3] and longer.epochs == [0, 1, 2, 3]
    # another initial dense model, convention or probe: a file of its own
    other = dense_reference(fresh_model(seed=1), probe, epochs=1, train_epoch=counted, cache=tmp_path)
    standard = dense_reference(fresh_model(), probe, epochs=1, train_epoch=counted, cache=tmp_path,
                               convention="standard")
    assert len({dense.path, other.path, standard.path}) == 3
    saved = json.loads(dense.path.read_text())
    assert saved["convention"] == "reference" and set(saved["spectra"]) == {"0", "1", "2", "3"}


def test_spectrum_distance_is_the_l2_distance_to_the_dense_spectrum_at_the_same_epoch(probe):
    dense_model = fresh_model()
    checkpoints = []
    for epoch in range(2):
        train_epoch(dense_model, epoch)
        checkpoints.append(copy.deepcopy(dense_model))
    dense = dense_reference(checkpoints, probe)                  # a list of checkpoints: index = epoch
    candidate = fresh_model(seed=3)
    train_epoch(candidate, 0, lr=0.3)
    spectrum = hyperprune.spectrum(candidate, probe, convention="reference")
    for epoch in range(2):
        expected = float(torch.linalg.vector_norm(spectrum.mean - dense.spectrum(epoch).mean))
        assert spectrum_distance(candidate, dense, probe, epoch=epoch) == pytest.approx(expected, abs=1e-12)
    # the probe defaults to the reference's own; other distances by name
    assert spectrum_distance(candidate, dense, epoch=1) == pytest.approx(expected, abs=1e-12)
    w = spectrum_distance(candidate, dense, epoch=1, distance="wasserstein")
    assert w == pytest.approx(hyperprune.distance("wasserstein", spectrum, dense.spectrum(1)), abs=1e-12)
    # the same reference from a mapping and from a callable
    by_dict = dense_reference({0: checkpoints[0], 1: checkpoints[1]}, probe)
    by_call = dense_reference(lambda e: checkpoints[e], probe, epochs=2)
    for ref in (by_dict, by_call):
        assert all(torch.equal(ref.spectrum(e).exponents, dense.spectrum(e).exponents) for e in range(2))


def test_a_fixed_reference_serves_every_epoch_and_says_so(probe):
    model = fresh_model()
    dense = dense_reference(model, probe)
    assert dense.fixed and dense.epochs == []
    assert torch.equal(dense.spectrum(7).exponents, hyperprune.spectrum(model, probe, convention="reference").exponents)
    assert spectrum_distance(model, dense, probe, epoch=7) == 0.0


def test_features_and_a_bare_lstm(tmp_path):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(6, 8, batch_first=True).double()
    x = torch.randn(3, 25, 6, dtype=torch.float64)               # (B, T, I): batch first, as the module says
    dense = dense_reference(lstm, x, warmup=5, cache=tmp_path)
    assert dense.spectrum(0).steps == 20
    assert spectrum_distance(lstm, dense, x, epoch=0) == 0.0
    with pytest.raises(UserError, match="pass the same features again"):
        spectrum_distance(lstm, dense, epoch=0)
    with pytest.raises(UserError, match="measured on probe"):
        spectrum_distance(lstm, dense, x + 1.0, epoch=0)


def test_mismatches_and_non_finite_spectra_are_one_line_errors(probe):
    from hyperprune import make_probe
    model = fresh_model()
    dense = dense_reference([model], probe)
    other_probe = make_probe(token_stream(600, seed=2), n_sequences=2, length=20, warmup=5)
    cases = [
        (lambda: spectrum_distance(model, dense, other_probe, epoch=0), "measured on probe"),
        (lambda: spectrum_distance(model, dense, probe, epoch=0, convention="standard"), "differs from the dense"),
        (lambda: spectrum_distance(model, dense, probe, epoch=3), "no spectrum at epoch 3; it has epochs [0]"),
        (lambda: spectrum_distance(model, dense, probe, epoch=0, distance="l3"), "did you mean 'l2'"),
        (lambda: spectrum_distance(model, "dense.json", probe, epoch=0), "allowed: the DenseSpectra"),
        (lambda: dense_reference(model, probe, epochs=2), "epochs needs train_epoch"),
        (lambda: dense_reference(model, probe, convention="paper"), "unknown Lyapunov convention"),
        (lambda: dense_reference(model, probe, kk=3), "unknown spectrum setting 'kk'"),
        (lambda: dense_reference(torch.nn.Linear(2, 2), probe), "holds 0 nn.LSTM"),
    ]
    for call, message in cases:
        with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")) as error:
            call()
        assert "\n" not in str(error.value)
    broken = fresh_model()
    with torch.no_grad():
        broken.rnn.weight_hh_l0.fill_(float("nan"))
    with pytest.warns(RuntimeWarning), pytest.raises(UserError, match="candidate spectrum at epoch 0 is not finite"):
        spectrum_distance(broken, dense, probe, epoch=0)


def test_a_user_lstm_holding_our_models_weights_is_at_distance_zero_from_it(probe):
    from hyperprune.models import ModelConfig, build_model
    torch.manual_seed(0)
    ours = build_model(ModelConfig(preset="lstm-tiny", emb_size=16, hidden_size=16, num_layers=1), 40).double()
    twin = UserLM().double()
    with torch.no_grad():
        twin.embed.weight.copy_(ours.embedding.weight)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(twin.rnn, f"{name}_l0").copy_(getattr(ours.layers[0], name))
    dense = dense_reference([ours], probe)                       # our RecurrentLM as the dense model
    assert spectrum_distance(twin, dense, probe, epoch=0) == 0.0
    with torch.no_grad():
        twin.rnn.weight_hh_l0.mul_(2.0)
    assert spectrum_distance(twin, dense, probe, epoch=0) > 0.1


def test_record_adds_an_epoch_to_the_reference_and_its_file(probe, tmp_path):
    first, later = fresh_model(), fresh_model()
    train_epoch(later, 0)
    dense = dense_reference([first], probe, cache=tmp_path)
    dense.record(later, 1)
    assert dense.epochs == [0, 1]
    saved = hyperprune.DenseSpectra.load(dense.path)
    assert saved.epochs == [0, 1] and saved.tag == dense.tag
    assert torch.equal(saved.spectrum(1).exponents, hyperprune.spectrum(later, probe, convention="reference").exponents)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UserError, match="cannot read the dense reference"):
        hyperprune.DenseSpectra.load(tmp_path / "broken.json")
