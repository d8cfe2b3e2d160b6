"""load_model and export_model: a trained model, its vocabulary and config, and a safetensors export
(sparse: masked matrices as index/value pairs) that loads back to the same perplexity."""

from __future__ import annotations

import json

import pytest
import torch

import hyperprune
from hyperprune.data import batchify
from hyperprune.errors import UserError
from hyperprune.perplexity import perplexity
from hyperprune.train import Trainer, evaluate_loss
from hyperprune.train.checkpoint import checkpoint_path, read_checkpoint, save_checkpoint
from hyperprune.train.saved_model import export_model
from test_trainer import tiny_config

NT_ASGD = {"optimizer": "nt-asgd", "nonmono": 1, "decay_after": None, "lr": 5.0}


def valid_ppl(model, trainer) -> float:
    data = batchify(trainer.corpus.valid, trainer.cfg.train.eval_batch_size)
    return perplexity(evaluate_loss(model, data, trainer.cfg.train.bptt))


@pytest.mark.parametrize("variant", [
    {"sparse": {"sparsity": 0.75, "masked": ["recurrent"]}, "train": NT_ASGD},
    {"sparse": {"sparsity": 0.5}, "model": {"tie_weights": True, "emb_size": 16, "hidden_size": 16}},
])
def test_a_sparse_export_loads_back_to_the_same_perplexity(tiny_corpus_dir, tmp_path, variant):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run", **variant), verbose=False)
    trainer.train(until_epoch=4)
    expected = trainer.evaluate("valid")                     # with NT-ASGD's averages where active

    loaded = hyperprune.load_model(tmp_path / "run")
    assert not loaded.model.training
    assert loaded.vocab.itos == trainer.corpus.vocab.itos and loaded.vocab.stoi["w3"] == trainer.corpus.vocab.stoi["w3"]
    assert loaded.config.train.bptt == 8 and loaded.config.sparse.sparsity == variant["sparse"]["sparsity"]
    assert valid_ppl(loaded.model, trainer) == pytest.approx(expected, rel=1e-6)

    sparse = export_model(tmp_path / "run", tmp_path / "model.sparse.safetensors", "sparse")
    dense = export_model(tmp_path / "run", tmp_path / "model.safetensors", "dense")
    assert sparse.path.stat().st_size == sparse.bytes_written < dense.bytes_written == dense.path.stat().st_size
    assert sparse.dense_bytes == dense.bytes_written
    masks = trainer.sparse.masks
    assert sparse.masked_kept == sum(int(m.sum()) for m in masks.values())
    assert sparse.masked_kept == round(sparse.masked_total * (1 - variant["sparse"]["sparsity"]))
    for path in (sparse.path, dense.path):
        back = hyperprune.load_model(path)
        assert not back.model.training and back.vocab.itos == trainer.corpus.vocab.itos
        assert back.config.model == loaded.config.model
        assert valid_ppl(back.model, trainer) == pytest.approx(expected, rel=1e-6, abs=0)
        for name, tensor in loaded.model.state_dict().items():
            assert torch.equal(back.model.state_dict()[name], tensor), name
    if loaded.config.model.tie_weights:
        back = hyperprune.load_model(sparse.path).model
        assert back.decoder.weight.data_ptr() == back.embedding.weight.data_ptr()


def test_a_checkpoint_without_its_vocabulary_gets_the_corpus_one(tiny_corpus_dir, tmp_path):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run"), verbose=False)
    trainer.train(until_epoch=1)
    path = checkpoint_path(trainer.checkpoint_dir, 1)
    payload = read_checkpoint(path)
    del payload["vocab"]                                      # as format 1 wrote it
    save_checkpoint(trainer.checkpoint_dir, 1, payload)
    assert hyperprune.load_model(path).vocab.itos == trainer.corpus.vocab.itos


def test_exporting_or_loading_the_wrong_thing_is_one_line(tiny_corpus_dir, tmp_path):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run"), verbose=False)
    trainer.train(until_epoch=1)
    with pytest.raises(UserError, match="export format 'csr' is not known; allowed: sparse, dense"):
        export_model(tmp_path / "run", tmp_path / "x.safetensors", "csr")
    with pytest.raises(UserError, match="does not exist"):
        hyperprune.load_model(tmp_path / "nothing.pt")
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"), metadata={"format": "x"})
    with pytest.raises(UserError, match="not one `hyperprune export` wrote"):
        hyperprune.load_model(tmp_path / "other.safetensors")
    exported = export_model(tmp_path / "run", tmp_path / "m.safetensors")
    with pytest.raises(UserError, match="already an export"):
        export_model(exported.path, tmp_path / "again.safetensors")
    assert json.loads(json.dumps(exported.format)) == "sparse"


def test_index_type_is_the_narrowest_that_holds_every_position():
    from hyperprune.train.saved_model import _index_type
    assert [_index_type(n) for n in (1, 32768, 32769, 2**31, 2**31 + 1)] == \
        [torch.int16, torch.int16, torch.int32, torch.int32, torch.int64]


def test_the_export_command_prints_the_sizes_on_disk(tiny_corpus_dir, tmp_path, capsys):
    from hyperprune.cli import main
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run", sparse={"sparsity": 0.75}), verbose=False)
    trainer.train(until_epoch=1)
    assert main(["export", str(tmp_path / "run"), "--format", "sparse"]) == 0
    out = tmp_path / "run" / "model.sparse.safetensors"
    lines = capsys.readouterr().out.splitlines()
    dense = len(hyperprune.export_model(tmp_path / "run", tmp_path / "d.safetensors", "dense").path.read_bytes())
    assert lines[0] == (f"wrote {out} (sparse): {out.stat().st_size / 1e3:.1f} kB on disk; "
                        f"dense {dense / 1e3:.1f} kB")
    total = sum(m.numel() for m in trainer.sparse.masks.values())
    assert lines[1].startswith(f"masked matrices: {total // 4:,} of {total:,} weights stored (75% pruned)")
    assert main(["export", str(tmp_path / "run"), "--format", "dense", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["bytes"] == printed["dense_bytes"] == dense
    assert printed["path"] == str(tmp_path / "run" / "model.safetensors")
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "no" / "x.safetensors")]) == 2
    assert capsys.readouterr().err.strip().startswith("hyperprune: error: --out")
