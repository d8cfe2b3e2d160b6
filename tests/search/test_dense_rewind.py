"""The dense reference's rewind: a search that needs the dense spectrum at an epoch the cached dense
run has already passed (its checkpoint rotated away) retrains a scratch copy to that epoch, which
training's determinism makes the same model, and leaves the cache as it was."""

from __future__ import annotations

import pytest

from hyperprune.search import run_search
from hyperprune.search.config import resolved_paths
from hyperprune.search.dense_reference import DenseReference
from hyperprune.search.probe import build_probe
from hyperprune.search.spectrum import measure
from hyperprune.train import Trainer


@pytest.mark.slow
def test_a_later_search_rewinds_the_cached_dense_run_to_an_earlier_epoch(tiny_cfg, tmp_path):
    shared = tmp_path / "dense-cache"
    cfg = resolved_paths(tiny_cfg(run_dir=str(tmp_path / "run"), search={"dense_dir": str(shared), "n_candidates": 2}))
    dense = DenseReference(cfg)
    # an earlier search (or any run of the same content) left the dense model at the budget, epoch 3
    cached = Trainer(dense.config, dense.dir, verbose=False)
    cached.train(until_epoch=3)
    probe = build_probe(cfg, cached.corpus.valid)
    at_3, _ = measure(cached, probe, cfg)
    checkpoints = dense.dir / "checkpoints"
    stamps = {p.name: p.stat().st_mtime_ns for p in checkpoints.iterdir()}
    assert "epoch-0001.pt" not in stamps                   # epoch 1's checkpoint is gone: only a rewind has it
    entries = {p.name for p in dense.dir.iterdir()}

    results = run_search(cfg, verbose=False)

    # the spectrum (2 candidates, 2 finalists: one round, at epoch 1) is that of a dense model trained
    # straight to epoch 1, not the cached model's at epoch 3
    straight = Trainer(dense.config, tmp_path / "straight", verbose=False)
    straight.train(until_epoch=1)
    at_1, _ = measure(straight, probe, cfg)
    assert results.dense["spectra"] == {"1": [float(v) for v in at_1.mean]}
    assert at_1.mean.tolist() != at_3.mean.tolist()
    assert results.dense["valid_ppl_by_epoch"]["1"] == straight.history[0].valid_ppl
    assert results.dense["test_ppl"] == cached.evaluate("test")
    for c in results.candidates:
        assert "1" in c["scores"] and c["status"] in ("finalist", "winner")
    # the cached run is untouched, its new spectrum is cached beside it, and no scratch copy is left
    assert {p.name: p.stat().st_mtime_ns for p in checkpoints.iterdir()} == stamps
    # (its final numbers are its checkpoint of epoch 3, its best: nothing retrained for them)
    assert {p.name for p in dense.dir.iterdir()} <= entries | {"spectra", "config.json", ".lock"}
    assert len(list((dense.dir / "spectra").glob("*-epoch-0001.json"))) == 1
    assert [p.name for p in shared.iterdir()] == [dense.dir.name]
