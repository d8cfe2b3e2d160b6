"""benchmarks/pool_analysis.py: the thin script prints BENCHMARKS.md's tables from hyperprune.pools
(tested in tests/pools/), for the paper's pool, a synthetic long pool and a real tiny long pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_paper_pool_prints_the_papers_rho(pool_analysis, capsys):
    assert pool_analysis.main(["--pool", "paper", "--boot", "200"]) == 0
    out = capsys.readouterr().out
    assert "ls_reference    at epoch 3 vs final test ppl: 0.72 [" in out
    assert "valid_ppl       at epoch 3 vs final test ppl: 0.42 [" in out


def test_markdown_tables_quote_the_analysis(pool_analysis, long_pool_dir, tmp_path, capsys):
    folder = long_pool_dir
    out_dir = tmp_path / "out"
    assert pool_analysis.main(["--pool", "ptb-long", "--records", str(folder), "--out", str(out_dir),
                               "--subpools", "50", "--boot", "100", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "read 26 runs, 20 distinct seed-0 candidates finished (0 failed; bit-identical: c20-s0 = c05-s0)" in out
    assert "| validation perplexity | 1.00 [1.00, 1.00] |" in out
    assert "| 2 (w*) | 2.39 | 0.98 | 1.00 | -0.02 [" in out and "| 3 (e0) | 1.93 |" in out
    assert "| lsh_valid_ppl_e3 | 0.00 [0.00, 0.00] | [0.00, 0.00] | 100% | 100% | 107.0 | 1070 |" in out
    assert "Pooled seed sd of the candidates c00, c01 (4 degrees of freedom): test 1.58" in out
    assert "Without SET-signed (15 candidates)" in out
    # c02, c05, c08, c11, c14, c17 are the synthetic pool's `magnitude` candidates (c20 = c05 counts once)
    assert "without `nonzeros` redistribution (6 candidates), Spearman rho" in out
    assert "| full | 0.00 [0.00, 0.00] | [0.00, 0.00] | 100% | 100% | 256.0 | 2560 | no candidate changes it |" in out
    # the synthetic pool seeds c00 and c01 only, so the post hoc threshold (without c07) is the fixed one
    assert "within noise at 1.58 ppl, the pooled seed sd of the seeded candidates without c07" in out
    assert "| full | 100% |" in out
    saved = json.loads((out_dir / "pool_ptb_long_analysis.json").read_text())
    assert saved["post_hoc_within_noise"]["noise_sd"] == pytest.approx(1.58, abs=0.005)
    assert saved["all"]["w_star"] == 2 and "per_subpool" not in saved["all"]["replay"]
    assert saved["post_hoc_without_nonzeros"]["candidates"] == [f"c{i:02d}-s0" for i in (2, 5, 8, 11, 14, 17)]
    assert sorted(p.name for p in out_dir.glob("*.png")) == [
        "pool_ptb_long_regret_vs_cost.png", "pool_ptb_long_rho_by_window.png", "pool_ptb_long_rho_vs_dense_ratio.png",
        "pool_ptb_long_seed_noise.png"]


def test_the_post_hoc_noise_threshold_leaves_c07_out(pool_analysis):
    import numpy as np

    def seeded(sd):
        return {"df": 2, "test": {"sd": sd}}

    result = {"seed_noise": {"runs": {"dense": seeded(9.0), "c07": seeded(52.63), "c00": seeded(1.0),
                                      "c21": seeded(0.5)}},
              "replay": {"per_subpool": {"lsh": {"regret": np.array([0.0, 0.5, 1.0, np.nan, 30.0])}}}}
    # pooled over c00 and c21, 2 degrees of freedom each: sqrt((2 * 1.0 + 2 * 0.25) / 4)
    assert pool_analysis.post_hoc_noise_sd(result) == pytest.approx(0.790569, abs=1e-6)
    assert pool_analysis.post_hoc_within_noise(result) == {"lsh": 0.5}       # 0 and 0.5 of 4 finished
    result["seed_noise"]["runs"] = {"dense": seeded(9.0), "c07": seeded(52.63)}
    assert pool_analysis.post_hoc_noise_sd(result) is None and pool_analysis.post_hoc_within_table(result) == []


def test_a_missing_pool_is_a_one_line_error(pool_analysis, tmp_path, capsys):
    assert pool_analysis.main(["--pool", "ptb-long", "--records", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.slow
def test_a_real_tiny_long_pool_reads(pool_analysis, tmp_path, data_dir, capsys):
    # its own process: the script's worker pool spawns processes that import it by module name
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "pool_ptb_long.py"), "--tiny", "--jobs", "1",
                    "--out", str(tmp_path / "records"), "--work", str(tmp_path / "work")], check=True,
                   env={**os.environ, "HYPERPRUNE_DATA": str(data_dir)}, capture_output=True, timeout=600)
    assert pool_analysis.main(["--pool", "ptb-long", "--records", str(tmp_path / "records"), "--out",
                               str(tmp_path / "out"), "--subpools", "10", "--boot", "20"]) == 0
    out = capsys.readouterr().out
    assert "pool ptb-long: read 5 runs, 2 distinct seed-0 candidates finished (0 failed" in out


def test_side_by_side_table_of_two_pools(pool_analysis, long_pool):
    from hyperprune.pools import analyse

    result = analyse(long_pool, n_subpools=50, n_boot=50)
    table = pool_analysis.side_by_side({"a": result, "b": result})
    assert "| budget T; e0 = 3 is | 16; 19% of T | 16; 19% of T |" in table
    assert "| w* (dense within 2.5x its final) | 2 | 2 |" in table
    assert "| candidates' final test ppl: best / median / worst | 100.00 / 128.50 / 157.00 |" in table
    assert "| LSH from 3 on loss | regret 0.00, best 100%, 100% within noise |" in table
