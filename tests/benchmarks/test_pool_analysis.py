"""benchmarks/pool_analysis.py: the paper's own pool gives the paper's figures, and synthetic pools
with known answers give them back (rho = 1, regret 0, costs counted by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

REPO = Path(__file__).resolve().parents[2]


def test_paper_pool_gives_the_papers_rho(pool_analysis):
    table = json.loads((REPO / "benchmarks/results/paper_pool_lstm_ptb.json").read_text())
    assert len(table["candidates"]) == 26
    assert table["source"]["commit"] == "4d08f7b74fbf79929d5cc93e906cfb05c9e90b5a"
    check = pool_analysis.paper_check(table, n_boot=200)
    assert round(check["ls_distance_e3"]["spearman"], 2) == 0.72       # paper Fig. 1-B
    assert round(check["valid_ppl_e3"]["spearman"], 2) == 0.42         # paper Fig. 1-C
    assert check["ls_distance_e3"]["spearman"] == pytest.approx(163 / 225, abs=1e-12)  # 1 - 6 sum d^2 / (n^3 - n)
    lo, hi = check["ls_distance_e3"]["spearman_ci"]
    assert lo < 0.72 < hi


def test_batched_bootstrap_statistics_equal_scipy_with_ties(pool_analysis):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, size=(20, 9)).astype(float)     # many ties, as bootstrap resamples have
    y = rng.integers(0, 5, size=(20, 9)).astype(float)
    rho, tau = pool_analysis._spearman_rows(x, y), pool_analysis._kendall_rows(x, y)
    for i in range(20):
        assert rho[i] == pytest.approx(stats.spearmanr(x[i], y[i]).statistic, abs=1e-12)
        assert tau[i] == pytest.approx(stats.kendalltau(x[i], y[i]).statistic, abs=1e-12)


def synthetic_records(n: int = 20, epochs: int = 6, dense: bool = True) -> list[dict]:
    """Records whose every early metric is an increasing function of the final perplexity; every
    epoch costs 10 s to a search (plus 1 s per spectrum), spectra and the after-update pass 1 s each."""
    finals = 100.0 + 3.0 * np.arange(n)[::-1]           # candidate 0 is the worst, n-1 the best

    def record(name, kind, candidate, final, seed=0):
        rows = []
        for e in range(1, epochs + 1):
            d = 0.0 if kind == "dense" else (final - 90.0) / e
            rows.append({"epoch": e, "valid_ppl_before_update": final + 200.0 / e,
                         "valid_ppl_after_update": final + 210.0 / e,
                         "spectra": {"reference": [d, 0.0, -1.0], "standard_k64": [0.0, 2 * d]},
                         "seconds": {"train": 8.0, "mask_update": 0.5, "valid_after_update": 1.0,
                                     "spectra": {"reference": 1.0, "standard_k64": 1.0}, "epoch": 13.0}})
        params = None if kind == "dense" else {"sparse.death_rate": 0.4 + 0.1 * (candidate % 6)}
        return {"name": name, "kind": kind, "candidate": candidate, "seed": seed, "params": params, "epochs": rows,
                "final": {"valid_ppl": final, "test_ppl": final - 5, "epochs": epochs}, "failure": None}

    out = [record(f"c{i:02d}-s0", "candidate", i, float(f)) for i, f in enumerate(finals)]
    out += [record("c00-s1", "candidate", 0, float(finals[0]) + 1, seed=1),
            record("c00-s2", "candidate", 0, float(finals[0]) - 1, seed=2)]
    if dense:
        out.append(record("dense-s0", "dense", None, 90.0))
    return out


def test_monotone_signals_rank_perfectly_and_every_search_finds_the_best(pool_analysis):
    result = pool_analysis.analyse(synthetic_records(), n_subpools=50, n_boot=100)
    assert result["runs_read"] == 23 and result["candidates_finished"] == 20
    for name in ("ls_reference", "ls_standard_k64", "valid_ppl"):
        assert sorted(result["correlations"][name]) == ["1", "2", "3", "4", "5"]     # every e < final
        for c in result["correlations"][name].values():
            assert c["spearman"] == pytest.approx(1.0) and c["kendall"] == pytest.approx(1.0)
            assert c["spearman_ci"] == pytest.approx([1.0, 1.0]) and c["kendall_ci"] == pytest.approx([1.0, 1.0])
    s = result["strategies"]
    for name in ("full", "asha_loss", "lsh_ls_reference_e1", "lsh_valid_ppl_e3", "lsh_ls_standard_k64_e2"):
        assert s[name]["regret"]["mean"] == 0.0 and s[name]["picked_best"] == 1.0
    assert s["random"]["regret"]["mean"] > 0
    E = 6
    # 16 -> 9 -> 5 -> 3 -> 2 at e0..e0+3: 7 stop at e0, 4 at e0+1, 2 at e0+2, 1 at e0+3, 2 reach E.
    for e0 in (1, 2, 3):
        loss_epochs = 7 * e0 + 4 * (e0 + 1) + 2 * (e0 + 2) + (e0 + 3) + 2 * E
        assert s[f"lsh_valid_ppl_e{e0}"]["epochs"]["mean"] == loss_epochs
        assert s[f"lsh_valid_ppl_e{e0}"]["seconds"]["mean"] == pytest.approx(10.0 * loss_epochs)
        # ls also trains dense to e0+3 and measures 16 + 9 + 5 + 3 = 33 candidate spectra and 4 dense ones.
        assert s[f"lsh_ls_reference_e{e0}"]["epochs"]["mean"] == loss_epochs + e0 + 3
        assert s[f"lsh_ls_reference_e{e0}"]["seconds"]["mean"] == pytest.approx(
            10.0 * (loss_epochs + e0 + 3) + 33 + 4)
    assert s["full"]["epochs"]["mean"] == 16 * E and s["random"]["epochs"]["mean"] == E
    # ASHA in arrival order: the best candidate, whichever position it arrives at, is never pruned.
    assert E <= s["asha_loss"]["epochs"]["mean"] < 16 * E
    assert result["seed_noise"]["c00"]["sd"] == pytest.approx(1.0)
    # BENCHMARKS.md's tables quote these numbers
    table = pool_analysis.markdown(result)
    assert "| LS distance, reference (all exponents, L2) | 1.00 [1.00, 1.00] | 1.00 [1.00, 1.00] |" in table
    assert f"| full | 0.00 [0.00, 0.00] | [0.00, 0.00] | 100% | {16 * E:.1f} |" in table
    assert "| c00 |" in table


def test_partial_records_without_dense_still_analyse_loss_and_prior(pool_analysis, tmp_path):
    for r in synthetic_records(n=8, dense=False):
        (tmp_path / f"{r['name']}.json").write_text(json.dumps(r))
    result = pool_analysis.analyse(pool_analysis.load_records(tmp_path), n_subpools=20, n_boot=50)
    assert result["runs_read"] == 10 and result["dense"] is None and result["subpool_size"] == 8
    assert set(result["correlations"]) == {"valid_ppl", "death_rate"}
    assert not any(name.startswith("lsh_ls") for name in result["strategies"])
    assert result["strategies"]["lsh_valid_ppl_e1"]["regret"]["mean"] == 0.0
    assert "read 10 runs" in pool_analysis.report(result)
