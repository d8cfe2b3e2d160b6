"""`hyperprune train`: the start-up banner, --json (stdout is only the summary) and --dry-run."""

from __future__ import annotations

import json
import math

from hyperprune.cli import main
from hyperprune.train.banner import run_start

from tests.test_cli import write_config


def test_json_puts_only_the_summary_on_stdout_and_the_banner_on_stderr(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir, sparse={"sparsity": 0.5})
    assert main(["train", config, "train.epochs=2", "--json"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary == json.loads((tmp_path / "run" / "summary.json").read_text())
    err = captured.err
    assert "hyperprune 0.1.0 | train" in err
    assert "  start     fresh start" in err
    assert f"  run dir   {tmp_path / 'run'}" in err
    assert "  model     lstm (preset lstm-tiny), 2 layers x 32 hidden, embedding 32, " \
           f"{summary['params_total']:,} parameters" in err
    assert "  sparsity  50% of the embedding/recurrent/decoder weights" in err
    assert sum("valid ppl" in line and line.startswith("epoch") for line in err.splitlines()) == 2
    assert sum(" | batch " in line for line in err.splitlines()) == 20             # 10 progress lines per epoch
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["valid_ppl"] for line in log] == [h["valid_ppl"] for h in summary["history"]]


def test_run_start_words():
    assert run_start(0, 13) == "fresh start"
    assert run_start(3, 13) == "resuming: epoch 3 of 13"
    assert run_start(13, 13) == "already trained: epoch 13 of 13 (nothing left to train)"


def test_dry_run_trains_and_writes_nothing(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "train.epochs=3", "--dry-run", "--json"]) == 0
    assert not (tmp_path / "run").exists()
    captured = capsys.readouterr()
    plan = json.loads(captured.out)
    # tiny corpus: batch 4, bptt 8 (write_config) -> steps = ceil((N // 4 - 1) / 8)
    from hyperprune.data import load_corpus
    from hyperprune.data.config import DataConfig
    n = load_corpus(DataConfig(name="custom", path=str(tiny_corpus_dir))).train.numel()
    cfg = plan["config"]["train"]
    assert plan["steps_per_epoch"] == math.ceil((n // cfg["batch_size"] - 1) / cfg["bptt"])
    assert plan["dry_run"] is True and plan["epochs"] == 3 and plan["epochs_to_train"] == 3
    assert plan["timed_steps"] == min(20, plan["steps_per_epoch"] - 3)   # 3 warm-up steps untimed
    assert plan["estimated_s"] == plan["epoch_s"] * 3 > 0
    assert "dry run: nothing was trained or written" in captured.err
    assert "plan: 3 of 3 epochs to train (0 done)" in captured.err
