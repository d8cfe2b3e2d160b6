"""The sparse engine on a user's plain nn.Module, with the user's own optimiser and loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from user_world import UserLM, train_epoch

from hyperprune import SparseConfig, SparseEngine, UserError, sparse_engine
from hyperprune.models import ModelConfig, build_model
from hyperprune.sparse.any_module import ModuleWeights


def test_weights_are_grouped_by_what_they_are_and_tied_ones_listed_once():
    model = UserLM(hidden=8, layers=2)
    groups = {name: group for name, (group, _) in ModuleWeights(model).sparsifiable().items()}
    assert groups == {
        "embed.weight": "embedding",
        "rnn.weight_ih_l0": "recurrent", "rnn.weight_hh_l0": "recurrent",
        "rnn.weight_ih_l1": "recurrent", "rnn.weight_hh_l1": "recurrent",
        "out.weight": "decoder",
    }
    model.out.weight = model.embed.weight                               # tied: once, as the embedding
    assert "out.weight" not in ModuleWeights(model).sparsifiable()
    cell = nn.Sequential(nn.GRUCell(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    assert {n: g for n, (g, _) in ModuleWeights(cell).sparsifiable().items()} == {
        "0.weight_ih": "recurrent", "0.weight_hh": "recurrent", "2.weight": "decoder"}
    chosen = ModuleWeights(model, {"rnn.weight_hh_l0": "recurrent", "embed.weight": None}).sparsifiable()
    assert {n: g for n, (g, _) in chosen.items()} == {"rnn.weight_hh_l0": "recurrent", "embed.weight": "embedding"}


def test_an_nn_lstm_gets_the_same_masks_as_our_lstm_stack_with_the_same_shapes():
    torch.manual_seed(0)
    ours = build_model(ModelConfig(preset="lstm-tiny", emb_size=8, hidden_size=8, num_layers=2), 40)
    theirs = UserLM(hidden=8, layers=2)
    settings = dict(epochs=3, steps_per_epoch=5, seed=7, masked=["recurrent"], death="magnitude")
    a = sparse_engine(ours, 0.6, **settings)
    b = sparse_engine(theirs, 0.6, **settings)
    a.apply()
    b.apply()
    names = [n for n in a.masks]
    assert [b.masks[m].shape for m in b.masks] == [a.masks[n].shape for n in names]
    assert all(torch.equal(a.masks[n], b.masks[m]) for n, m in zip(names, b.masks))


def test_sparse_engine_is_the_engine_built_from_its_keywords_as_a_config():
    """One construction: SparseEngine takes any module too; sparse_engine only makes the config."""
    model = UserLM(hidden=8, layers=2)
    a = sparse_engine(model, 0.6, epochs=3, steps_per_epoch=5, seed=7, weights=["rnn.weight_hh_l0", "out.weight"],
                      death="magnitude")
    b = SparseEngine(model, SparseConfig(sparsity=0.6, death="magnitude"), epochs=3, steps_per_epoch=5, seed=7,
                     weights=["rnn.weight_hh_l0", "out.weight"])
    a.apply()
    b.apply()
    assert a.cfg == b.cfg and list(a.params) == list(b.params) == ["rnn.weight_hh_l0", "out.weight"]
    assert all(torch.equal(a.masks[n], b.masks[n]) for n in a.masks)
    whole = SparseEngine(model, SparseConfig(sparsity=0.6), epochs=3, steps_per_epoch=5)   # seed 0, every matrix
    assert list(whole.params) == list(ModuleWeights(model).sparsifiable()) and whole.seed == 0


def test_the_engine_keeps_the_exact_sparsity_of_a_plain_lstm_through_training_and_updates():
    torch.manual_seed(1)
    model = UserLM(hidden=16)
    engine = sparse_engine(model, 0.75, epochs=3, steps_per_epoch=5, masked=["recurrent"],
                           death="magnitude", growth="random", death_rate=0.5)
    assert isinstance(engine, SparseEngine)
    engine.apply()
    total = 2 * 4 * 16 * 16                                             # weight_ih, weight_hh: (64, 16) each
    for epoch in range(2):
        before = {n: m.clone() for n, m in engine.masks.items()}
        train_epoch(model, epoch, engine=engine)
        nonzero = int((model.rnn.weight_ih_l0 != 0).sum() + (model.rnn.weight_hh_l0 != 0).sum())
        assert nonzero <= total // 4 and sum(int(m.sum()) for m in engine.masks.values()) == total // 4
        record = engine.end_of_epoch(epoch + 1, None)
        assert record["nonzero"] == total // 4 and record["removed"] > 0
        assert any(not torch.equal(before[n], engine.masks[n]) for n in before)
        assert all(bool((getattr(model.rnn, n.split(".")[1])[~engine.masks[n]] == 0).all()) for n in engine.masks)
    summary = engine.summary()
    assert summary["sparsity"] == 0.75 and summary["masked_total"] == total
    # FLOPs per token: recurrent 2 x kept, decoder 2 x 40 x 16 dense, the embedding a lookup
    assert summary["flops_per_token"]["sparse"] == 2 * total // 4 + 2 * 40 * 16


@pytest.mark.parametrize("call, message", [
    (lambda m: sparse_engine(m, 0.5, epochs=1, steps_per_epoch=1, deth="SET"), "unknown config key 'sparse.deth' (did you mean 'death'?)"),
    (lambda m: sparse_engine(m, 1.5, epochs=1, steps_per_epoch=1), "sparse.sparsity = 1.5 is out of range"),
    (lambda m: sparse_engine(m, 0.5, epochs=1, steps_per_epoch=1, weights=["rnn.weight_hh"]), "did you mean 'rnn.weight_hh_l0'"),
    (lambda m: sparse_engine(m, 0.5, epochs=1, steps_per_epoch=1, weights={"rnn.weight_hh_l0": "rec"}), "group 'rec'"),
    (lambda m: sparse_engine(nn.LayerNorm(3), 0.5, epochs=1, steps_per_epoch=1), "no weight matrix to mask"),
    (lambda m: sparse_engine("model", 0.5, epochs=1, steps_per_epoch=1), "str is not a torch.nn.Module"),
])
def test_bad_settings_are_one_line_errors(call, message):
    with pytest.raises(UserError) as error:
        call(UserLM(hidden=4))
    assert message in str(error.value) and "\n" not in str(error.value)
