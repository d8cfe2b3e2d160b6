"""What a run leaves for later: log.jsonl with each model's training numbers per epoch, and
context.json with the versions, command line, the config's git commit, host and times."""

from __future__ import annotations

import datetime
import json
import platform
import shutil
import socket
import subprocess
from importlib.metadata import version

import pytest
import torch
import yaml

import hyperprune
from hyperprune.cli import main
from hyperprune.run_files import read_log
from hyperprune.train.provenance import git_commit
from tests.search.conftest import tiny_search_raw

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def committed_config(folder, raw) -> tuple:
    """`raw` as search.yaml in a fresh git repository, committed: (path, commit)."""
    folder.mkdir()
    config = folder / "search.yaml"
    config.write_text(yaml.safe_dump(raw))
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "search.yaml"], check=True)
    subprocess.run([*git, "commit", "-qm", "config"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return config, head


def check_versions_host_and_times(context: dict) -> None:
    assert context["versions"] == {"python": platform.python_version(), "torch": torch.__version__,
                                   "optuna": version("optuna"), "hyperprune": hyperprune.__version__}
    assert context["host"] == socket.gethostname()
    started = datetime.datetime.fromisoformat(context["started"])
    ended = datetime.datetime.fromisoformat(context["ended"])
    assert started.tzinfo is not None and started <= ended


@needs_git
def test_a_search_records_its_context_and_each_models_training_per_epoch(tiny_corpus_dir, tmp_path, capsys,
                                                                          monkeypatch):
    config, head = committed_config(tmp_path / "configs", tiny_search_raw(tiny_corpus_dir, tmp_path / "run"))
    argv = ["hyperprune", "search", str(config), "--quiet"]
    monkeypatch.setattr("sys.argv", argv)
    assert main(argv[1:]) == 0
    run = tmp_path / "run"
    context = json.loads((run / "context.json").read_text())
    check_versions_host_and_times(context)
    assert context["command"] == f"hyperprune search {config} --quiet"
    assert context["config"] == str(config) and context["config_git"] == {"commit": head, "dirty": False}
    assert context["data"]["vocab_size"] > 0                       # the search's own context is still there

    results = json.loads((run / "results.json").read_text())
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(log) == results["dense"]["epochs"] + sum(c["epochs_trained"] for c in results["candidates"])
    for entry in log:
        folder = results["dense"]["dir"] if entry["model"] == "dense" else run / "candidates" / f"{entry['candidate']:04d}"
        own = {e["epoch"]: e for e in read_log(folder)}[entry["epoch"]]
        assert {k: entry[k] for k in ("train_loss", "lr", "wall_s", "tokens_per_s")} == \
               {k: own[k] for k in ("train_loss", "lr", "wall_s", "tokens_per_s")}
        assert entry["train_loss"] > 0 and entry["wall_s"] > 0 and entry["tokens_per_s"] > 0
        # the tiny recipe: lr 2.0, halved after epoch 2 (search.space leaves train.lr alone)
        assert entry["lr"] == (2.0 if entry["epoch"] <= 2 else 1.0)


@needs_git
def test_a_train_run_records_its_context(tiny_corpus_dir, tmp_path, capsys, monkeypatch):
    raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "run")
    del raw["search"], raw["lyapunov"]
    config, head = committed_config(tmp_path / "configs", raw)
    config.write_text(config.read_text() + "# edited after the commit\n")
    argv = ["hyperprune", "train", str(config), "train.epochs=1"]
    monkeypatch.setattr("sys.argv", argv)
    assert main(argv[1:]) == 0
    context = json.loads((tmp_path / "run" / "context.json").read_text())
    check_versions_host_and_times(context)
    assert context["command"] == f"hyperprune train {config} train.epochs=1"
    assert context["config_git"] == {"commit": head, "dirty": True}
    assert git_commit(tmp_path / "run") is None                      # not a git checkout
