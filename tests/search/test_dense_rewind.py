"""The dense reference's rewind: a search that needs the dense spectrum at an epoch the cached dense
run has already passed (its checkpoint rotated away) retrains a scratch copy to that epoch, which
training's determinism makes the same model, and leaves the cache as it was."""

from __future__ import annotations

import pytest

from hyperprune.search import reference, run_search
from hyperprune.search.config import resolved_paths
from hyperprune.train import Trainer


@pytest.mark.slow
def test_a_later_search_rewinds_the_cached_dense_run_to_an_earlier_epoch(tiny_cfg, tmp_path, monkeypatch):
    shared = tmp_path / "dense-cache"
    cfg = resolved_paths(tiny_cfg(run_dir=str(tmp_path / "run"), search={"dense_dir": str(shared), "n_candidates": 2}))
    dense = reference.DenseReference(cfg)
    # an earlier search (or any run of the same content) left the dense model at the budget, epoch 3
    Trainer(dense.config, dense.dir, verbose=False).train(until_epoch=3)
    checkpoints = dense.dir / "checkpoints"
    stamps = {p.name: p.stat().st_mtime_ns for p in checkpoints.iterdir()}
    assert "epoch-0001.pt" not in stamps                   # epoch 1's checkpoint is gone: only a rewind has it

    rewinds = []
    rewind_dir = reference.DenseReference.rewind_dir
    monkeypatch.setattr(reference.DenseReference, "rewind_dir",
                        lambda self, epoch: rewinds.append(epoch) or rewind_dir(self, epoch))
    results = run_search(cfg, verbose=False)
    assert set(rewinds) == {1}                             # 2 candidates, 2 finalists: one round, at epoch 1

    # the spectrum equals that of a dense model trained straight to epoch 1
    straight = Trainer(dense.config, tmp_path / "straight", verbose=False)
    straight.train(until_epoch=1)
    spectrum, _ = reference.measure(straight, reference.build_probe(cfg, straight.corpus.valid), cfg)
    assert results["dense"]["spectra"] == {"1": [float(v) for v in spectrum.mean]}
    assert results["dense"]["valid_ppl_by_epoch"]["1"] == straight.history[0].valid_ppl
    for c in results["candidates"]:
        assert "1" in c["scores"] and c["status"] in ("finalist", "winner")
    # the cached run is untouched, its new spectrum is cached beside it, and no scratch copy is left
    assert {p.name: p.stat().st_mtime_ns for p in checkpoints.iterdir()} == stamps
    assert not [p for p in dense.dir.iterdir() if p.name.startswith("rewind-")]
    assert len(list((dense.dir / "spectra").glob("*-epoch-0001.json"))) == 1
    assert [p.name for p in shared.iterdir()] == [dense.dir.name]
