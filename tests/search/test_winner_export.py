"""Exporting the winner is idempotent and safe from several processes at once: the search process
and the worker that finished the search may both export it."""

from __future__ import annotations

import json
import threading

import torch
import yaml

from hyperprune.search.results import export_winner
from hyperprune.train.checkpoint import save_checkpoint

CONFIG = {"seed": 1, "run_dir": "runs/demo-winner"}


def fake_checkpoint(folder, epoch: int = 3, weights=(1.0,)):
    """A checkpoint as a candidate's trainer writes it, without its vocabulary (format 1)."""
    return save_checkpoint(folder, epoch, {"model": {"w": torch.tensor(weights)}, "epoch": epoch,
                                           "config": {"seed": 1, "run_dir": str(folder.parent)}})


def exported(target):
    return torch.load(target / "checkpoints" / "epoch-0003.pt", weights_only=True)


def test_exporting_the_same_winner_again_leaves_the_export_alone(tmp_path):
    checkpoint = fake_checkpoint(tmp_path / "candidates" / "0003" / "checkpoints")
    run = tmp_path / "run"
    run.mkdir()
    about = {"candidate": 3, "epochs": 3}
    target = export_winner(run, str(checkpoint), CONFIG, {"sparse.death_rate": 0.5}, about, vocab=["a", "b"])
    assert target == run / "winner"
    # self-contained: the vocabulary, and a run_dir away from the search's candidate folder
    payload = exported(target)
    assert payload["model"]["w"].tolist() == [1.0] and payload["vocab"] == ["a", "b"]
    assert payload["config"] == {"seed": 1, "run_dir": "runs/demo-winner"}
    assert yaml.safe_load((target / "config.yaml").read_text()) == CONFIG
    assert json.loads((target / "params.json").read_text()) == {"sparse.death_rate": 0.5}
    assert json.loads((target / "winner.json").read_text()) == {
        "candidate": 3, "epochs": 3, "params": {"sparse.death_rate": 0.5}, "checkpoint": str(checkpoint),
        "checkpoint_sha256": checkpoint.with_suffix(".sha256").read_text().strip()}
    stamp = (target / "checkpoints" / "epoch-0003.pt").stat().st_mtime_ns
    (target / "marker").write_text("still here")

    assert export_winner(run, str(checkpoint), CONFIG, {"sparse.death_rate": 0.5}, about) == target
    assert (target / "marker").read_text() == "still here"            # not copied again
    assert (target / "checkpoints" / "epoch-0003.pt").stat().st_mtime_ns == stamp

    other = fake_checkpoint(tmp_path / "candidates" / "0005" / "checkpoints", weights=(2.0,))
    export_winner(run, str(other), CONFIG, {"sparse.death_rate": 0.7}, about)   # another winner replaces it
    assert exported(target)["model"]["w"].tolist() == [2.0]
    assert json.loads((target / "params.json").read_text()) == {"sparse.death_rate": 0.7}
    assert not (target / "marker").exists()
    assert sorted(p.name for p in run.iterdir()) == ["winner"]              # no staging copy left


def test_concurrent_exports_of_one_winner_all_succeed(tmp_path, monkeypatch):
    checkpoint = fake_checkpoint(tmp_path / "ckpt" / "checkpoints", weights=[0.5] * 25_000)
    run = tmp_path / "run"
    run.mkdir()
    # threads share a pid: give each its own staging names, as separate processes have
    import hyperprune.search.results as results
    ids = iter(range(100, 200))
    local = threading.local()

    def getpid():
        if not hasattr(local, "pid"):
            local.pid = next(ids)
        return local.pid

    monkeypatch.setattr(results.os, "getpid", getpid)
    errors = []

    def export():
        try:
            for _ in range(5):
                export_winner(run, str(checkpoint), CONFIG, {"a": 1})
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=export) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert exported(run / "winner")["model"]["w"].tolist() == [0.5] * 25_000
    assert sorted(p.name for p in run.iterdir()) == ["winner"]
