"""Checkpoints hold plain types only, so `torch.load(..., weights_only=True)` (PyTorch's default since
2.6) reads them; checkpoints written before that (numpy's random state inside) still load."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
import torch

from hyperprune.train import Trainer, load_trained
from hyperprune.train.checkpoint import checkpoint_path, save_checkpoint
from test_trainer import losses, tiny_config

VARIANTS = [
    {"sparse": {"sparsity": 0.5, "death_rate": 0.3, "growth": "momentum"}},
    {"sparse": {"sparsity": 0.5, "death": "threshold", "redistribution": "nonzeros"},
     "train": {"optimizer": "nt-asgd", "nonmono": 1, "decay_after": None, "lr": 5.0}},
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_checkpoint_loads_with_weights_only(tiny_corpus_dir, tmp_path, variant):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run", **variant), verbose=False)
    trainer.train(until_epoch=3)
    payload = torch.load(checkpoint_path(trainer.checkpoint_dir, 3), weights_only=True)
    assert payload["epoch"] == 3 and payload["vocab"] == trainer.corpus.vocab.itos
    assert payload["averaging"] == trainer.averaging


def test_a_payload_with_a_numpy_object_is_refused_when_written(tmp_path):
    with pytest.raises(TypeError, match=r"rng\.numpy.*numpy\.ndarray"):
        save_checkpoint(tmp_path, 1, {"model": {}, "config": {}, "rng": {"numpy": np.zeros(3)}})
    with pytest.raises(TypeError, match=r"history\[0\]\.loss.*numpy\.float64"):
        save_checkpoint(tmp_path, 1, {"model": {}, "config": {}, "history": [{"loss": np.float64(1.0)}]})
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_written_the_old_way_resumes_bit_for_bit(tiny_corpus_dir, tmp_path):
    variant = VARIANTS[1]
    straight = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "a", **variant), verbose=False)
    straight.train(until_epoch=3)

    first = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "b", **variant), verbose=False)
    first.train(until_epoch=2)
    # Rewrite epoch 2 as the trainer wrote it before checkpoints were plain: numpy's state as numpy
    # returns it, no vocabulary, pickled whole.
    old = first.state_dict()
    keys = old["rng"]["numpy"]
    old["rng"]["numpy"] = ("MT19937", keys["keys"].numpy().astype(np.uint32), keys["pos"],
                           keys["has_gauss"], keys["cached_gaussian"])
    assert np.array_equal(old["rng"]["numpy"][1], np.random.get_state()[1])
    del old["vocab"]
    buffer = io.BytesIO()
    torch.save(old, buffer)
    path = checkpoint_path(first.checkpoint_dir, 2)
    path.write_bytes(buffer.getvalue())
    path.with_suffix(".sha256").write_text(hashlib.sha256(buffer.getvalue()).hexdigest() + "\n")
    with pytest.raises(Exception, match="numpy"):
        torch.load(path, weights_only=True)
    np.random.seed(12345)                       # the old state, not this one, must be restored

    resumed = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "b", **variant), verbose=False)
    assert resumed.epoch == 2
    resumed.train(until_epoch=3)
    assert losses(resumed.history) == losses(straight.history)
    cfg, model, payload = load_trained(path)
    assert payload["epoch"] == 2 and not model.training
