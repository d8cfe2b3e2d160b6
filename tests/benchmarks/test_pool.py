"""benchmarks/pool_ptb.py end to end in its tiny mode: the runs it plans, the record it writes for
each, and that a second call trains nothing."""

from __future__ import annotations

import json
import math

import pytest


def test_the_pool_is_32_distinct_settings_of_the_papers_space_and_39_runs(pool_ptb):
    grid = pool_ptb.space_grid()
    assert len(grid) == 2 * 4 * 1 * 3 * 6 == 144
    drawn = pool_ptb.draw_candidates(32)
    assert len({json.dumps(p, sort_keys=True) for p in drawn}) == 32
    assert drawn == pool_ptb.draw_candidates(32) and drawn[:5] == pool_ptb.draw_candidates(5)   # seeded, nested
    assert {p["sparse.death_rate"] for p in grid} == {0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
    runs = pool_ptb.plan_runs(pool_ptb.FULL)
    names = [r["name"] for r in runs]
    assert len(runs) == 39 and len(set(names)) == 39
    assert {"dense-s0", "dense-s1", "dense-s2", "c00-s1", "c00-s2", "c01-s1", "c01-s2", "c31-s0"} <= set(names)
    cfg = pool_ptb.run_config(pool_ptb.FULL, drawn[0], 0)
    assert cfg.sparse.sparsity == 0.67 and cfg.sparse.masked == ["embedding", "recurrent", "decoder"]
    assert cfg.model.emb_size != cfg.model.hidden_size and cfg.model.tie_weights is False
    assert cfg.data.valid_tokens is None and cfg.data.test_tokens is None        # whole splits


@pytest.mark.slow
def test_tiny_pool_writes_one_finished_record_per_run_and_skips_them_next_time(pool_ptb, tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("HYPERPRUNE_DATA", str(data_dir))
    out, work = tmp_path / "records", tmp_path / "work"
    trained = pool_ptb.run_pool(pool_ptb.TINY, out, work, jobs=1, only=None, max_runs=2, log=lambda line: None)
    assert trained == ["dense-s0", "c00-s0"]
    assert pool_ptb.run_pool(pool_ptb.TINY, out, work, jobs=1, only=None, max_runs=None, log=lambda line: None) == ["c01-s0"]
    assert pool_ptb.run_pool(pool_ptb.TINY, out, work, jobs=1, only=None, max_runs=None, log=lambda line: None) == []
    assert sorted(p.name for p in out.iterdir()) == ["c00-s0.json", "c01-s0.json", "dense-s0.json"]
    assert not any(work.iterdir())                        # scratch run directories are removed

    dense = json.loads((out / "dense-s0.json").read_text())
    sparse = json.loads((out / "c00-s0.json").read_text())
    assert sparse["params"] == pool_ptb.draw_candidates(1)[0] and sparse["kind"] == "candidate" and sparse["seed"] == 0
    assert sparse["config"]["sparse"]["sparsity"] == 0.67
    assert sparse["params_nonzero"] < sparse["params_total"] and dense["params_nonzero"] == dense["params_total"]
    hidden, emb = pool_ptb.TINY["model"]["hidden_size"], pool_ptb.TINY["model"]["emb_size"]
    assert sparse["masked_shapes"]["embedding.weight"][1] == emb and sparse["masked_shapes"]["decoder.weight"][1] == hidden
    for record in (dense, sparse):
        assert record["failure"] is None and record["final"]["epochs"] == 2
        assert [e["epoch"] for e in record["epochs"]] == [1, 2]
        for e in record["epochs"]:
            assert len(e["spectra"]["reference"]) == 2 * hidden            # hidden states of both layers
            assert len(e["spectra"]["standard_k64"]) == 64                 # (h, c) of 2 layers = 64: all of them
            assert set(e["seconds"]) == {"train", "mask_update", "valid_after_update", "spectra", "epoch"}
            assert set(e["seconds"]["spectra"]) == {"reference", "standard_k64"}
            assert e["seconds"]["epoch"] >= e["seconds"]["train"] > 0
            assert math.isfinite(e["valid_ppl_before_update"]) and math.isfinite(e["valid_ppl_after_update"])
        assert record["epochs"][-1]["valid_ppl_after_update"] == pytest.approx(record["final"]["valid_ppl"])
        assert record["seconds"]["train"] == pytest.approx(sum(e["seconds"]["train"] for e in record["epochs"]))
        assert len(record["host"]["load_average_start"]) == 3
    # Dense has no mask update; the candidate's epoch-1 update changes the weights validation sees,
    # and no update follows the last epoch.
    assert all(e["valid_ppl_before_update"] == e["valid_ppl_after_update"] for e in dense["epochs"])
    assert sparse["epochs"][0]["valid_ppl_before_update"] != sparse["epochs"][0]["valid_ppl_after_update"]
    assert sparse["epochs"][1]["valid_ppl_before_update"] == pytest.approx(sparse["epochs"][1]["valid_ppl_after_update"])
    assert sparse["epochs"][0]["seconds"]["mask_update"] > 0 and dense["epochs"][0]["seconds"]["mask_update"] == 0


def test_only_names_a_planned_run(pool_ptb, tmp_path):
    with pytest.raises(SystemExit, match="unknown run"):
        pool_ptb.run_pool(pool_ptb.TINY, tmp_path, tmp_path, jobs=1, only=["c99-s7"], max_runs=None, log=lambda line: None)


def test_each_epoch_trains_on_the_next_window_of_the_split_wrapping_around(pool_ptb):
    import torch

    ids = torch.arange(10)
    windows = [pool_ptb.epoch_window(ids, epoch, 4).tolist() for epoch in (1, 2, 3, 4)]
    assert windows == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1], [2, 3, 4, 5]]
