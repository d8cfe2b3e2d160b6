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


@pytest.mark.slow
def test_two_train_processes_on_one_run_directory(tiny_corpus_dir, tmp_path, capsys):
    """A real second `hyperprune train` while the first trains: one line, exit 2, first one unharmed."""
    import subprocess
    import sys
    import time

    config = write_config(tmp_path, tiny_corpus_dir)
    lock = tmp_path / "run" / ".hyperprune.lock"
    # so many epochs that the first process is still training whenever the second one asks, on any
    # machine: it ends only when killed below; the wait is on its lock, not on a clock
    first = subprocess.Popen([sys.executable, "-m", "hyperprune.cli", "train", config, "train.epochs=1000000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while not (lock.is_file() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.05)
        assert main(["train", config, "train.epochs=1000000"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"hyperprune: error: another hyperprune process is writing to run directory "
                       f"'{tmp_path / 'run'}' (lock .hyperprune.lock); wait for it to finish, or give 'train' "
                       f"another run_dir")
        assert first.poll() is None                  # the first one is still training
    finally:
        first.kill()
        first.wait()


def test_checkpoint_without_its_checksum_is_resumed_with_a_warning(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "train.epochs=1"]) == 0
    checkpoint = tmp_path / "run" / "checkpoints" / "epoch-0001.pt"
    checkpoint.with_suffix(".sha256").unlink()                    # copied by hand, say
    weights = checkpoint.read_bytes()
    capsys.readouterr()
    assert main(["train", config, "train.epochs=2"]) == 0
    captured = capsys.readouterr()
    assert "resuming" in captured.out
    assert captured.err.strip() == (f"hyperprune: warning: checkpoint '{checkpoint}' has no epoch-0001.sha256 "
                                    f"checksum beside it; it loads, so it is used")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs"] == 2
    assert checkpoint.read_bytes() == weights                      # loaded, not retrained over


def test_options_among_overrides_and_version(tiny_corpus_dir, tmp_path, capsys):
    from importlib.metadata import version

    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "--device", "cpu", "train.epochs=1", "--run-dir", str(tmp_path / "r2"),
                 "seed=4"]) == 0
    saved = yaml.safe_load((tmp_path / "r2" / "config.yaml").read_text())
    assert (saved["seed"], saved["train"]["epochs"], saved["device"]) == (4, 1, "cpu")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"hyperprune {version('hyperprune')}"
    with pytest.raises(SystemExit) as exit_:
        main(["data", "ptb", "--no-such-option"])
    assert exit_.value.code == 2


def test_every_command_has_examples_and_every_argument_a_help_line():
    from hyperprune.cli import EXAMPLES, build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in {"hyperprune": parser, **commands}.items():
        text = command.format_help()
        examples = text.split("examples:\n", 1)[1].rstrip("\n").splitlines()
        assert 2 <= len(examples) <= 3 and examples == [f"  {e}" for e in EXAMPLES[name]], name
        for action in command._actions:
            assert action.help, f"{name}: {action.dest} has no help line"


def test_a_search_without_a_winner_exits_non_zero(monkeypatch, tmp_path, capsys):
    import hyperprune.search
    from hyperprune.search.search_results import parse_search_results

    config = tmp_path / "s.yaml"
    config.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "sparse": {"sparsity": 0.5}}))
    monkeypatch.setattr(hyperprune.search, "run_search",
                        lambda cfg, **kw: parse_search_results({"status": "complete", "winner": None}, tmp_path))
    assert main(["search", str(config)]) == 1
    assert capsys.readouterr().err.strip() == (f"hyperprune: error: the search has no winner: every candidate "
                                               f"failed; see {tmp_path / 'run' / 'results.json'}")
