"""Exporting the winner is idempotent and safe from several processes at once: the search process
and the worker that finished the search may both export it."""

from __future__ import annotations

import json
import threading

import yaml

from hyperprune.search.results import export_winner


def fake_checkpoint(folder, epoch: int = 3, payload: bytes = b"weights"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"epoch-{epoch:04d}.pt"
    path.write_bytes(payload)
    path.with_suffix(".sha256").write_text(f"{len(payload):064d}\n")
    return path


def test_exporting_the_same_winner_again_leaves_the_export_alone(tmp_path):
    checkpoint = fake_checkpoint(tmp_path / "candidates" / "0003" / "checkpoints")
    run = tmp_path / "run"
    run.mkdir()
    target = export_winner(run, str(checkpoint), {"seed": 1}, {"sparse.death_rate": 0.5})
    assert target == run / "winner"
    assert (target / "checkpoints" / "epoch-0003.pt").read_bytes() == b"weights"
    assert yaml.safe_load((target / "config.yaml").read_text()) == {"seed": 1}
    assert json.loads((target / "params.json").read_text()) == {"sparse.death_rate": 0.5}
    stamp = (target / "checkpoints" / "epoch-0003.pt").stat().st_mtime_ns
    (target / "marker").write_text("still here")

    assert export_winner(run, str(checkpoint), {"seed": 1}, {"sparse.death_rate": 0.5}) == target
    assert (target / "marker").read_text() == "still here"            # not copied again
    assert (target / "checkpoints" / "epoch-0003.pt").stat().st_mtime_ns == stamp

    other = fake_checkpoint(tmp_path / "candidates" / "0005" / "checkpoints", payload=b"other weights")
    export_winner(run, str(other), {"seed": 1}, {"sparse.death_rate": 0.7})   # another winner replaces it
    assert (target / "checkpoints" / "epoch-0003.pt").read_bytes() == b"other weights"
    assert json.loads((target / "params.json").read_text()) == {"sparse.death_rate": 0.7}
    assert not (target / "marker").exists()
    assert sorted(p.name for p in run.iterdir()) == ["winner"]              # no staging copy left


def test_concurrent_exports_of_one_winner_all_succeed(tmp_path, monkeypatch):
    checkpoint = fake_checkpoint(tmp_path / "ckpt", payload=b"x" * 100_000)
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
                export_winner(run, str(checkpoint), {"seed": 1}, {"a": 1})
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=export) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (run / "winner" / "checkpoints" / "epoch-0003.pt").read_bytes() == b"x" * 100_000
    assert sorted(p.name for p in run.iterdir()) == ["winner"]
