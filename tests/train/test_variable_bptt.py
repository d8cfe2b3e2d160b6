"""AWD-LSTM's variable BPTT (Merity et al. 2018, sec. 4.1): the sequence lengths the trainer draws,
the step size scaled by them, and a resume that continues the same draws."""

from __future__ import annotations

import math

import pytest
import torch

import hyperprune.train.trainer as trainer_module
from hyperprune.config import from_dict
from hyperprune.train import RunConfig, Trainer

BPTT, SEED = 12, 5


def awd_config(corpus_dir, run_dir) -> RunConfig:
    return from_dict(RunConfig, {
        "data": {"name": "custom", "path": str(corpus_dir)},
        "model": {"preset": "awd-lstm-small", "emb_size": 16, "hidden_size": 16, "num_layers": 2},
        "train": {"epochs": 2, "batch_size": 4, "eval_batch_size": 4, "bptt": BPTT, "variable_bptt": True,
                  "lr": 2.0, "decay_after": None, "clip": 0.25},
        "run_dir": str(run_dir), "device": "cpu", "seed": SEED})


def documented_lengths(rows: int, epochs: int) -> list[list[int]]:
    """The rule written out: with probability 0.95 the base is bptt, else bptt / 2; the length is
    int(base + 5 * N(0, 1)) kept within [5, bptt + 20]; the last batch of a pass is cut to what is
    left. Draws come from one generator seeded with the run's seed, continued across epochs."""
    generator = torch.Generator().manual_seed(SEED)
    out = []
    for _ in range(epochs):
        i, lengths = 0, []
        while i < rows - 1:
            base = BPTT if torch.rand((), generator=generator).item() < 0.95 else BPTT / 2
            drawn = max(5, min(int(base + 5 * torch.randn((), generator=generator).item()), BPTT + 20))
            lengths.append(min(drawn, rows - 1 - i))
            i += lengths[-1]
        out.append(lengths)
    return out


class Recorder:
    """Wraps the trainer's get_batch: the lengths of the training batches and the lr each step used."""

    def __init__(self, monkeypatch):
        self.trainers: list[Trainer] = []
        self.lengths: list[int] = []
        self.lrs: list[float] = []
        original = trainer_module.get_batch
        recorder = self

        def get_batch(source, i, bptt):
            x, y = original(source, i, bptt)
            trainer = next((t for t in recorder.trainers if source is t.train_data), None)
            if trainer is not None:
                recorder.lengths.append(x.size(0))
            return x, y

        monkeypatch.setattr(trainer_module, "get_batch", get_batch)
        step = torch.optim.SGD.step

        def sgd_step(optimizer, *args, **kwargs):
            recorder.lrs.append(optimizer.param_groups[0]["lr"])
            return step(optimizer, *args, **kwargs)

        monkeypatch.setattr(torch.optim.SGD, "step", sgd_step)

    def watch(self, trainer: Trainer) -> Trainer:
        self.trainers.append(trainer)
        return trainer


def test_sequence_lengths_are_drawn_as_documented_and_scale_the_step(tiny_corpus_dir, tmp_path, monkeypatch):
    recorder = Recorder(monkeypatch)
    trainer = recorder.watch(Trainer(awd_config(tiny_corpus_dir, tmp_path / "run"), verbose=False))
    trainer.train()
    rows = trainer.train_data.size(0)
    expected = documented_lengths(rows, 2)
    assert recorder.lengths == expected[0] + expected[1]
    lengths = recorder.lengths
    assert len(set(lengths)) > 5 and min(lengths[:-1]) >= 5 and max(lengths) <= BPTT + 20
    assert trainer.step == len(lengths)
    # each step's learning rate is lr * T / bptt, so long sequences don't dominate
    assert recorder.lrs == pytest.approx([2.0 * T / BPTT for T in lengths], rel=1e-12)
    assert all(r.lr == 2.0 for r in trainer.history)      # the recorded rate is the base rate


def test_variable_bptt_resumes_exactly(tiny_corpus_dir, tmp_path, monkeypatch):
    recorder = Recorder(monkeypatch)
    straight = recorder.watch(Trainer(awd_config(tiny_corpus_dir, tmp_path / "a"), verbose=False))
    straight.train()
    straight_lengths, recorder.lengths = recorder.lengths, []

    first = recorder.watch(Trainer(awd_config(tiny_corpus_dir, tmp_path / "b"), verbose=False))
    first.train(until_epoch=1)
    del first
    resumed = recorder.watch(Trainer(awd_config(tiny_corpus_dir, tmp_path / "b"), verbose=False))
    assert resumed.epoch == 1
    resumed.train()

    assert recorder.lengths == straight_lengths             # the second epoch's draws continue, not restart
    assert [(r.train_loss, r.valid_loss) for r in resumed.history] == \
           [(r.train_loss, r.valid_loss) for r in straight.history]
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    assert math.isfinite(resumed.history[-1].valid_loss)
