"""`hyperprune report RUN_A RUN_B` on two tiny searches over the same pool, LSH on the spectrum
distance (A) and on validation loss (B): every number the page and its JSON show is results.json's."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from hyperprune.cli import main
from hyperprune.report.html import format_value


@pytest.fixture
def two_searches(tiny_search_run, tiny_loss_search_run) -> tuple[Path, Path]:
    """A: the tiny search as written (metric ls), B: the same on validation loss; each run once per session."""
    return Path(tiny_search_run[0].run_dir), Path(tiny_loss_search_run[0].run_dir)


def results_of(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def rows_by(table: dict, key: str) -> dict:
    return {row[key]: row for row in table["rows"]}


def test_the_comparison_shows_each_searchs_own_numbers(two_searches, tmp_path, capsys):
    run_a, run_b = two_searches
    out = tmp_path / "cmp"
    assert main(["report", str(run_a), str(run_b), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (f"comparison: {out / 'index.html'} (8 table files, all in "
                                               f"comparison.json)")
    comparison = json.loads((out / "comparison.json").read_text())
    page = (out / "index.html").read_text()
    a, b = results_of(run_a), results_of(run_b)
    assert (a["metric"], b["metric"]) == ("ls", "loss")
    assert comparison["runs"]["a"]["run_dir"] == str(run_a.resolve())
    assert comparison["same_pool"] is True            # one seed, one sampler: the same six candidates

    winner = rows_by(comparison["tables"]["compare_winner"], "quantity")
    for quantity, side in (("winner", "id"), ("winner valid_ppl", "valid_ppl"), ("winner test_ppl", "test_ppl"),
                           ("winner params_nonzero", "params_nonzero"), ("winner settings", "params")):
        assert (winner[quantity]["a"], winner[quantity]["b"]) == (a["winner"][side], b["winner"][side])
    for quantity, key in (("dense valid_ppl", "valid_ppl"), ("dense test_ppl", "test_ppl")):
        assert (winner[quantity]["a"], winner[quantity]["b"]) == (a["dense"][key], b["dense"][key])
    assert winner["metric"]["a"] == "ls" and winner["metric"]["b"] == "loss"
    gap = winner["winner test_ppl - dense test_ppl"]
    assert gap["a"] == a["winner"]["test_ppl"] - a["dense"]["test_ppl"]
    assert gap["b"] == b["winner"]["test_ppl"] - b["dense"]["test_ppl"]

    cost = rows_by(comparison["tables"]["compare_cost"], "quantity")
    for quantity, key in (("candidate epochs", "epochs_total"), ("full training's candidate epochs",
                          "full_training_epochs"), ("wall_s", "wall_s"), ("train_s", "train_s"),
                          ("spectrum_s", "spectrum_s")):
        assert (cost[quantity]["a"], cost[quantity]["b"]) == (a["cost"][key], b["cost"][key])
        assert cost[quantity]["b_minus_a"] == b["cost"][key] - a["cost"][key]
    assert cost["dense epochs"]["a"] == a["dense"]["epochs"]
    assert cost["epochs with the dense model"]["b"] == b["cost"]["epochs_total"] + b["dense"]["epochs"]
    assert cost["candidate epochs / full training's"]["a"] == a["cost"]["epochs_total"] / a["cost"]["full_training_epochs"]
    assert b["cost"]["spectrum_s"] == 0.0 < a["cost"]["spectrum_s"]       # loss measures no spectra

    rounds = comparison["tables"]["compare_rounds"]["rows"]
    assert len(rounds) == len(a["rounds"]) == len(b["rounds"]) == 2
    for row, ra, rb in zip(rounds, a["rounds"], b["rounds"]):
        assert (row["epoch_a"], row["scored_a"], row["kept_a"]) == (ra["epoch"], len(ra["candidates"]), ra["kept"])
        assert (row["epoch_b"], row["scored_b"], row["kept_b"]) == (rb["epoch"], len(rb["candidates"]), rb["kept"])
        assert row["kept_by_both"] == sorted(set(ra["kept"]) & set(rb["kept"]))

    candidates = rows_by(comparison["tables"]["compare_candidates"], "id")
    for side, results in (("a", a), ("b", b)):
        for c in results["candidates"]:
            row = candidates[str(c["id"])]
            assert row["same_settings"] is True
            assert (row[f"outcome_{side}"], row[f"eliminated_in_round_{side}"], row[f"final_valid_ppl_{side}"],
                    row[f"final_test_ppl_{side}"]) == (c["status"], c["eliminated_in_round"],
                                                        c["final_valid_ppl"], c["final_test_ppl"])

    # the page shows the same numbers, rounded as the single report rounds them
    for value in (a["winner"]["valid_ppl"], b["winner"]["test_ppl"], a["dense"]["test_ppl"],
                  a["cost"]["wall_s"], b["cost"]["wall_s"], gap["a"]):
        assert f">{html.escape(format_value(value))}<" in page
    assert f">{html.escape(format_value(a['rounds'][1]['kept']))}<" in page
    assert f">{html.escape(format_value(b['rounds'][1]['kept']))}<" in page
    assert page.count("<h2>") == 4 and "Partial comparison" not in page
    # the CSV beside the page holds the JSON's rows
    assert (out / "compare_cost.csv").read_text().splitlines()[0] == "quantity,a,b,b_minus_a"


def test_the_default_folder_is_beside_run_a(two_searches, capsys):
    run_a, run_b = two_searches
    assert main(["report", str(run_a), str(run_b)]) == 0
    assert (run_a / "compare-loss" / "index.html").is_file()


def test_bad_pairs_are_one_line_errors(two_searches, tmp_path, capsys):
    run_a, _ = two_searches
    assert main(["report", str(run_a), str(run_a)]) == 2
    assert capsys.readouterr().err.strip() == (f"hyperprune: error: '{run_a}' is given twice; compare two "
                                               f"different search run directories")
    assert main(["report", str(run_a), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hyperprune: error: run directory") and "\n" not in err


def test_different_pools_and_an_unfinished_search_are_said(complete_run, tmp_path):
    from synthetic_search import make_results, write_run

    from hyperprune.report import write_comparison

    other = make_results("running", seed=1)
    other["candidates"][0]["params"]["death_rate"] = 0.9           # not the same pool any more
    files = write_comparison(complete_run, write_run(tmp_path / "other", other), tmp_path / "cmp")
    comparison = json.loads(files.json.read_text())
    page = files.index.read_text()
    assert comparison["same_pool"] is False and files.partial
    assert all(row["kept_by_both"] is None for row in comparison["tables"]["compare_rounds"]["rows"])
    assert rows_by(comparison["tables"]["compare_candidates"], "id")["0"]["same_settings"] is False
    assert "kept_by_both is left empty" in page and "Partial comparison: search B is still running" in page
    assert "search B has no winner yet" in page
