"""Trainer: exact resume, learning-rate schedule, NT-ASGD trigger, crash-safe checkpoints."""

from __future__ import annotations

import json
import math

import pytest
import torch

from hyperprune.config import from_dict
from hyperprune.train import RunConfig, Trainer
from hyperprune.train.asgd import SparseASGD, should_switch
from hyperprune.train.checkpoint import list_checkpoints


def tiny_config(corpus_dir, run_dir, **sections) -> RunConfig:
    data = {"name": "custom", "path": str(corpus_dir)}
    model = {"preset": "lstm-tiny", "init_range": 0.3}
    train = {"epochs": 3, "batch_size": 4, "eval_batch_size": 4, "bptt": 8, "lr": 1.0, "decay_after": 1,
             "lr_decay": 0.5, "clip": 0.5}
    raw = {"data": data, "model": model, "train": train, "run_dir": str(run_dir), "device": "cpu", "seed": 3}
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return from_dict(RunConfig, raw)


def losses(history):
    return [(r.train_loss, r.valid_loss) for r in history]


@pytest.mark.parametrize("variant", [
    {},
    {"model": {"dropout": 0.3}},
    {"train": {"optimizer": "nt-asgd", "nonmono": 1, "decay_after": None, "lr": 5.0}},
    {"sparse": {"sparsity": 0.5, "death_rate": 0.3}},
    {"sparse": {"sparsity": 0.5, "death": "threshold", "redistribution": "nonzeros"},
     "train": {"optimizer": "nt-asgd", "nonmono": 1, "decay_after": None, "lr": 5.0}},
])
def test_resume_after_interruption_gives_the_same_losses(tiny_corpus_dir, tmp_path, variant):
    straight = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "a", **variant), verbose=False)
    straight.train(until_epoch=4)

    first = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "b", **variant), verbose=False)
    first.train(until_epoch=2)
    del first
    resumed = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "b", **variant), verbose=False)
    assert resumed.epoch == 2
    resumed.train(until_epoch=4)

    assert len(resumed.history) == 4
    # bit for bit, as the trainer's docstring promises
    assert losses(straight.history) == losses(resumed.history)
    for name, param in straight.model.state_dict().items():
        assert torch.equal(param, resumed.model.state_dict()[name]), name
    for param, other in zip(straight.model.parameters(), resumed.model.parameters()):
        theirs = resumed.optimizer.state.get(other, {})
        for key, value in straight.optimizer.state.get(param, {}).items():
            if torch.is_tensor(value):
                assert torch.equal(value, theirs[key]), key


def test_learning_rate_decays_after_decay_after(tiny_corpus_dir, tmp_path):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path, train={"epochs": 4, "decay_after": 2,
                                                                    "lr_decay": 0.5}), verbose=False)
    trainer.train()
    assert [r.lr for r in trainer.history] == [1.0, 1.0, 0.5, 0.25]


def test_training_lowers_validation_perplexity(tiny_corpus_dir, tmp_path):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path, train={"epochs": 4, "lr": 5.0, "decay_after": None}),
                      verbose=False)
    before = trainer.evaluate("valid")
    trainer.train()
    after = trainer.evaluate("valid")
    # 50-word vocabulary: an untrained model sits near 50, the bigram structure is learnable.
    assert before == pytest.approx(50, rel=0.2)
    assert after < 0.6 * before


def test_nt_asgd_switches_and_evaluates_with_averages(tiny_corpus_dir, tmp_path):
    cfg = tiny_config(tiny_corpus_dir, tmp_path, train={"optimizer": "nt-asgd", "nonmono": 1, "lr": 30.0,
                                                        "decay_after": None, "epochs": 5})
    trainer = Trainer(cfg, verbose=False)
    trainer.train()
    assert trainer.averaging, "lr 30 on a tiny corpus must stall validation and trigger the switch"
    assert isinstance(trainer.optimizer, SparseASGD)
    raw = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    with trainer.evaluation_weights():
        averaged = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    assert any(not torch.equal(raw[n], averaged[n]) for n in raw)
    for n, p in trainer.model.named_parameters():      # raw weights are back after the block
        assert torch.equal(p, raw[n])


def test_corrupt_latest_checkpoint_falls_back_to_previous(tiny_corpus_dir, tmp_path):
    cfg = tiny_config(tiny_corpus_dir, tmp_path)
    trainer = Trainer(cfg, verbose=False)
    trainer.train(until_epoch=2)
    epochs = [e for e, _ in list_checkpoints(tmp_path / "checkpoints")]
    assert epochs == [1, 2]
    latest = tmp_path / "checkpoints" / "epoch-0002.pt"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])     # a crash mid-write
    with pytest.warns(UserWarning, match="corrupt or incomplete"):
        resumed = Trainer(cfg, verbose=False)
    assert resumed.epoch == 1


def test_only_the_newest_two_checkpoints_are_kept(tiny_corpus_dir, tmp_path):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path, train={"epochs": 4}), verbose=False)
    trainer.train()
    assert [e for e, _ in list_checkpoints(tmp_path / "checkpoints")] == [3, 4]


def test_diverging_run_raises_training_diverged(tiny_corpus_dir, tmp_path):
    from hyperprune.train import TrainingDiverged

    # lr=inf is refused by the config now; a huge finite one still blows the weights up.
    cfg = tiny_config(tiny_corpus_dir, tmp_path, train={"lr": 1e36, "clip": 0.0})
    with pytest.raises(TrainingDiverged):
        Trainer(cfg, verbose=False).train(until_epoch=2)


def test_nt_asgd_switches_after_the_papers_trigger_and_skips_that_epochs_mask_update(tiny_corpus_dir, tmp_path):
    cfg = tiny_config(tiny_corpus_dir, tmp_path, train={"optimizer": "nt-asgd", "nonmono": 1, "lr": 30.0,
                                                        "decay_after": None, "epochs": 6},
                      sparse={"sparsity": 0.5})
    trainer = Trainer(cfg, verbose=False)
    trainer.train()
    switch = next(r.epoch for r in trainer.history if r.averaged)
    losses_before = [r.valid_loss for r in trainer.history[:switch]]
    # the switch epoch is the first whose trigger fires on the losses so far, and no earlier one did
    assert should_switch(losses_before, 1)
    assert not any(should_switch(losses_before[:e], 1) for e in range(1, switch))
    # a mask update follows every epoch but the switch epoch and the last
    assert [r["epoch"] for r in trainer.sparse.history] == [e for e in range(1, 6) if e != switch]


def test_test_batch_size_batches_only_the_test_split(tiny_corpus_dir, tmp_path, capsys):
    """AWD-LSTM-MoS tests with batch 1: `train.test_batch_size` changes the test split's chunking
    and nothing else; `hyperprune evaluate` reads it too."""
    from hyperprune.cli import main
    from hyperprune.data import batchify
    from hyperprune.train.trainer import evaluate_loss

    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "one", train={"epochs": 1, "test_batch_size": 1}),
                      verbose=False)
    same = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "four", train={"epochs": 1}), verbose=False)
    assert trainer.test_data.shape == (trainer.corpus.test.numel(), 1)
    assert torch.equal(trainer.valid_data, same.valid_data) and same.test_data.shape[1] == 4
    trainer.train()
    by_one = evaluate_loss(trainer.model, batchify(trainer.corpus.test, 1), 8)
    assert trainer.evaluate("test") == pytest.approx(math.exp(by_one), rel=1e-12)
    assert trainer.evaluate("test") != pytest.approx(
        math.exp(evaluate_loss(trainer.model, batchify(trainer.corpus.test, 4), 8)), rel=1e-6)
    assert main(["evaluate", str(tmp_path / "one"), "--json", "--device", "cpu"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["test_ppl"] == pytest.approx(trainer.evaluate("test"), rel=1e-9)
    assert evaluated["valid_ppl"] == pytest.approx(trainer.evaluate("valid"), rel=1e-9)
