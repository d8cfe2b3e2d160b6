"""`hyperprune evaluate` on a checkpoint trained with NT-ASGD (the selfish-rnn preset's optimiser):
it must evaluate ASGD's averaged weights, as the trainer does, not the raw ones."""

from __future__ import annotations

import json
import math

import pytest

from hyperprune.cli import main
from hyperprune.config import from_dict
from hyperprune.train import RunConfig, Trainer, evaluate_loss
from hyperprune.train.checkpoint import list_checkpoints


def test_evaluate_uses_the_averaged_weights_of_an_nt_asgd_checkpoint(tiny_corpus_dir, tmp_path, capsys):
    cfg = from_dict(RunConfig, {
        "data": {"name": "custom", "path": str(tiny_corpus_dir)},
        "model": {"preset": "lstm-tiny", "init_range": 0.3},
        # with lr 5 validation gets worse at epoch 3, so NT-ASGD averages epochs 4 and 5 (nonmono 1)
        "train": {"epochs": 5, "batch_size": 4, "eval_batch_size": 4, "bptt": 8, "lr": 5.0,
                  "decay_after": None, "nonmono": 1, "clip": 0.5},
        "sparse": {"preset": "selfish-rnn", "sparsity": 0.5},
        "run_dir": str(tmp_path / "run"), "device": "cpu", "seed": 3})
    trainer = Trainer(cfg, verbose=False)
    assert trainer.cfg.train.optimizer == "nt-asgd"               # the preset's optimiser
    trainer.train()
    assert [r.averaged for r in trainer.history] == [False, False, True, True, True]
    expected = {split: trainer.evaluate(split) for split in ("valid", "test")}
    raw = math.exp(evaluate_loss(trainer.model, trainer.valid_data, cfg.train.bptt))   # no averages
    assert abs(raw / expected["valid"] - 1) > 1e-3                # the two weight sets really differ

    for target in (tmp_path / "run", list_checkpoints(trainer.checkpoint_dir)[-1][1]):
        assert main(["evaluate", str(target), "--json", "--device", "cpu"]) == 0
        evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert evaluated["epoch"] == 5
        assert evaluated["valid_ppl"] == pytest.approx(expected["valid"], rel=1e-12)
        assert evaluated["test_ppl"] == pytest.approx(expected["test"], rel=1e-12)
