"""hyperprune.pools.records: both record formats read into one shape; the loader's errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hyperprune.errors import UserError
from hyperprune.pools import analyse, load, read_records
from hyperprune.pools.records import REPOSITORY


def test_long_records_read_into_runs(long_pool):
    assert long_pool.name == "ptb-long" and long_pool.total_windows == 16 and long_pool.probes == ("probe2", "probe5")
    c03 = next(r for r in long_pool.candidates if r.candidate == 3)
    assert c03.final.test_ppl == 109.0 and c03.final.valid_ppl == 114.0 and c03.final.window == 16
    w8, w9 = c03.at(8), c03.at(9)
    assert w8.valid_ppl == pytest.approx(114 + 200 / 8) and w8.valid_ppl_after_update == pytest.approx(115 + 200 / 8)
    assert w8.search_seconds == 10.0 and w9.search_seconds == 10.0 and w9.spectra is None
    assert w8.spectra["reference"]["probe2"].shape == (2, 2) and w8.spectrum_cost("reference") == 1.0
    # a search at window 11 knows window 8's spectrum and nothing after window 11
    seen = c03.upto(11)
    assert seen.final is None and [w.window for w in seen.windows] == list(range(1, 12))
    window, mean = seen.spectrum("reference", "probe2")
    assert window == 8 and mean.tolist() == [2.0, 0.0]              # c03's probe2 distance is 2 (swapped)


def first_pool_record(name, kind, candidate, final, seed=0, epochs=6):
    rows = []
    for e in range(1, epochs + 1):
        d = 0.0 if kind == "dense" else (final - 90.0) / e
        rows.append({"epoch": e, "lr": 20.0, "valid_ppl_before_update": final + 200.0 / e,
                     "valid_ppl_after_update": final + 210.0 / e,
                     "spectra": {"reference": [d, 0.0, -1.0], "standard_k64": [0.0, 2 * d]},
                     "seconds": {"train": 8.0, "mask_update": 0.5, "valid_after_update": 1.0,
                                 "spectra": {"reference": 1.0, "standard_k64": 1.0}, "epoch": 13.0}})
    params = None if kind == "dense" else {"sparse.death": "magnitude",
                                           "sparse.death_rate": 0.4 + 0.1 * (candidate % 6)}
    return {"name": name, "kind": kind, "candidate": candidate, "seed": seed, "params": params, "epochs": rows,
            "config": {"train": {"epochs": epochs}},
            "final": {"valid_ppl": final, "test_ppl": final - 5, "epochs": epochs}, "failure": None}


def test_first_pool_records_analyse_with_one_round_an_epoch(tmp_path):
    folder = tmp_path / "pool-ptb"
    folder.mkdir()
    finals = 100.0 + 3.0 * np.arange(20)[::-1]
    records = [first_pool_record(f"c{i:02d}-s0", "candidate", i, float(f)) for i, f in enumerate(finals)]
    records.append(first_pool_record("dense-s0", "dense", None, 90.0))
    for r in records:
        (folder / f"{r['name']}.json").write_text(json.dumps(r))
    pool = read_records(folder)
    assert pool.name == "ptb" and pool.total_windows == 6 and pool.probes == ("probe2",)
    assert pool.candidates[0].at(1).search_seconds == 10.0       # 13 s less the after-update pass and spectra
    result = analyse(pool, n_subpools=50, n_boot=50, e0s=[1, 2, 3])
    assert result["correlations"]["test"]["ls_reference"]["2"]["spearman"] == pytest.approx(1.0)
    s = result["replay"]["strategies"]
    for e0 in (1, 2, 3):       # one epoch a round: 7 stop at e0, 4 at e0+1, 2 at e0+2, 1 at e0+3, 2 reach 6
        loss = 7 * e0 + 4 * (e0 + 1) + 2 * (e0 + 2) + (e0 + 3) + 2 * 6
        assert s[f"lsh_valid_ppl_e{e0}"]["windows"]["mean"] == loss
        assert s[f"lsh_ls_reference_e{e0}"]["seconds"]["mean"] == pytest.approx(10.0 * (loss + e0 + 3) + 33 + 4)
        assert s[f"lsh_ls_reference_e{e0}"]["regret"]["mean"] == 0.0


def test_the_repositorys_first_pool_loads():
    pool = load("ptb")
    assert len(pool.runs) == 39 and len(pool.candidates) == 29
    assert pool.duplicates == {"c04-s0": "c00-s0", "c09-s0": "c01-s0", "c29-s0": "c01-s0"}
    c07 = next(r for r in pool.candidates if r.candidate == 7)
    assert c07.final.test_ppl == pytest.approx(209.21533935394933) and c07.params["sparse.death"] == "magnitude"


def test_loading_errors_are_one_line(tmp_path):
    with pytest.raises(UserError, match=r"unknown pool 'ptb-short'; allowed: ptb, ptb-long, paper"):
        load("ptb-short")
    with pytest.raises(UserError, match="not found at .*missing: install hyperprune editable"):
        load("ptb-long", tmp_path / "missing")
    assert REPOSITORY.joinpath("benchmarks", "results").is_dir()      # this checkout is the editable install
