"""`hyperprune evaluate` says which tokens it used, takes data.* overrides, and explains why a sparse
checkpoint's perplexity differs from its log (issue 21, section 5)."""

from __future__ import annotations

import json

from hyperprune.cli import main
from hyperprune.data import load_corpus
from hyperprune.data.config import DataConfig

from tests.test_cli import write_config


def test_evaluate_names_its_tokens_and_takes_data_overrides(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir, sparse={"sparsity": 0.5},
                          data={"name": "custom", "path": str(tiny_corpus_dir), "test_tokens": 200})
    assert main(["train", config, "train.epochs=2"]) == 0
    capsys.readouterr()
    whole = load_corpus(DataConfig(name="custom", path=str(tiny_corpus_dir)))
    # Epoch 1's checkpoint was saved after its prune/regrow; no update follows the last epoch (2).
    assert main(["evaluate", str(tmp_path / "run" / "checkpoints" / "epoch-0001.pt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (f"tokens: valid: all {whole.valid.numel():,}; test: the first 200 (data.test_tokens=200; "
                      f"data.test_tokens=null for all)")
    assert out[2] == ("note: the checkpoint holds epoch 1's weights after its prune/regrow; the run's log "
                      "measured validation before it, so its valid ppl differs slightly")
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    last = capsys.readouterr().out.splitlines()
    assert last[0].startswith("epoch 2 |") and len(last) == 2            # the final state: no note
    assert main(["evaluate", str(tmp_path / "run"), "data.test_tokens=null", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_tokens"] == whole.test.numel() and result["test_tokens_limit"] is None
    assert result["after_mask_update"] is False
    assert main(["evaluate", str(tmp_path / "run"), "train.lr=3"]) == 2
    assert capsys.readouterr().err.strip() == (
        "hyperprune: error: evaluate takes data.KEY=VALUE overrides only (which tokens to evaluate on), got "
        "'train'; the model's other settings are the checkpoint's")
