"""The `hyperprune` command: data counts, train -> summary.json -> evaluate, one-line errors."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from hyperprune.cli import main


def test_data_json_prints_exact_ptb_counts(data_dir, capsys):
    assert main(["data", "ptb", "--data-dir", str(data_dir), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats == {"train_tokens": 929_589, "valid_tokens": 73_760, "test_tokens": 82_430, "vocab_size": 10_000}


def write_config(tmp_path, corpus_dir, **extra) -> str:
    cfg = {
        "data": {"name": "custom", "path": str(corpus_dir)},
        "model": {"preset": "lstm-tiny", "init_range": 0.3},
        "train": {"epochs": 2, "batch_size": 4, "eval_batch_size": 4, "bptt": 8, "lr": 5.0, "decay_after": None},
        "run_dir": str(tmp_path / "run"),
        "device": "cpu",
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_train_writes_summary_and_evaluate_reads_the_checkpoint(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir, sparse={"sparsity": 0.5})
    assert main(["train", config, "train.epochs=2"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in ("valid_ppl", "test_ppl", "epochs", "params_total", "params_nonzero", "wall_s"):
        assert key in summary
    assert summary["epochs"] == 2
    tensors = summary["sparse"]["tensors"]
    masked_total = sum(t["total"] for t in tensors.values())
    masked_nonzero = sum(t["nonzero"] for t in tensors.values())
    assert masked_nonzero == math.floor(0.5 * masked_total + 0.5)
    # Biases are never masked, so the model's nonzero count is the masked kept count plus the rest.
    assert summary["params_total"] - summary["params_nonzero"] == masked_total - masked_nonzero
    capsys.readouterr()

    assert main(["evaluate", str(tmp_path / "run"), "--json", "--device", "cpu"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["valid_ppl"] == pytest.approx(summary["valid_ppl"], rel=1e-6)
    assert evaluated["test_ppl"] == pytest.approx(summary["test_ppl"], rel=1e-6)


def test_rerunning_train_continues_from_the_last_checkpoint(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "train.epochs=1"]) == 0
    capsys.readouterr()
    assert main(["train", config, "train.epochs=2"]) == 0
    out = capsys.readouterr().out
    assert "resuming: epoch 1 of 2" in out
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs"] == 2


@pytest.mark.parametrize("override, message", [
    ("trian.epochs=3", "unknown config key 'trian' (did you mean 'train'?)"),
    ("train.epoch=3", "unknown config key 'train.epoch' (did you mean 'epochs'?)"),
    ("sparse.sparsity=1.2", "sparse.sparsity = 1.2 is out of range; allowed: [0.0, 1.0)"),
    ("train.epochs=-1", "train.epochs = -1 is out of range"),
    ("model.preset=lstm-smal", "lstm-small"),
    ("train.optimizer=adamw", "unknown train.optimizer 'adamw'"),
])
def test_bad_settings_give_one_clear_line(tiny_corpus_dir, tmp_path, capsys, override, message):
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, override]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err


def test_evaluate_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_spectrum_of_a_trained_checkpoint_writes_table_json_and_plot(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "train.epochs=1"]) == 0
    capsys.readouterr()
    out_json, out_png = tmp_path / "ls.json", tmp_path / "ls.png"
    assert main(["spectrum", str(tmp_path / "run"), "--k", "5", "--convention", "standard",
                 "--json", str(out_json), "--plot", str(out_png), "--device", "cpu"]) == 0
    result = json.loads(out_json.read_text())
    assert result["settings"]["convention"] == "standard" and result["settings"]["init"] == "random"
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    exponents = result["exponents"]                 # (B=2 sequences, k=5)
    assert len(exponents) == 2 and all(len(row) == 5 for row in exponents)


def test_spectrum_k_beyond_the_state_size_is_one_line(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "train.epochs=1"]) == 0
    capsys.readouterr()
    assert main(["spectrum", str(tmp_path / "run"), "--k", "100000", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "100000" in err
