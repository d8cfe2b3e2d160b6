"""`hyperprune report`: files, table rows, correlations against scipy, partial and bad input."""

from __future__ import annotations

import csv
import json
import re

import pytest
from scipy import stats
from synthetic_search import FAILED, N_CANDIDATES, make_results, write_run

from hyperprune.cli import main
from hyperprune.errors import UserError
from hyperprune.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_complete_report_writes_every_file(complete_run):
    files = write_report(complete_run)
    out = complete_run / "report"
    assert files.index == out / "index.html" and not files.partial
    expected_figures = {"spectra_round0_e1", "spectra_round1_e2", "distance_vs_final", "valid_ppl_vs_final",
                        "bracket", "cost"}
    assert {p.stem for p in files.figures} == expected_figures
    for name in expected_figures:
        assert (out / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
    for name in ("candidates", "bracket", "cost", "correlations", "trials", "winner"):
        assert (out / f"{name}.csv").is_file() and json.loads((out / f"{name}.json").read_text())["columns"]
    page = files.index.read_text()
    # Self-contained: every image is an embedded PNG, one per figure file.
    sources = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(sources) == len(expected_figures)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert 'id="partial"' not in page


def test_candidate_and_bracket_tables_have_the_right_rows(complete_run):
    write_report(complete_run)
    results = make_results("complete")
    rows = read_csv(complete_run / "report" / "candidates.csv")
    assert [r["id"] for r in rows] == [str(i) for i in range(N_CANDIDATES)]
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[FAILED]["status"] == "failed" and "nan" in by_id[FAILED]["failure"]
    assert by_id[FAILED]["final_valid_ppl"] == ""
    assert sum(r["status"] == "winner" for r in rows) == 1
    assert sum(r["status"] == "finalist" for r in rows) == 1
    for c in results["candidates"]:
        if c["scores"].get("1") is not None:
            assert float(by_id[c["id"]]["score@e1"]) == pytest.approx(c["scores"]["1"])
        assert by_id[c["id"]]["param.death"] == c["params"]["death"]

    bracket = read_csv(complete_run / "report" / "bracket.csv")
    assert len(bracket) == N_CANDIDATES
    r1, r2 = "round 0 (e1)", "round 1 (e2)"
    assert sum(r[r1] == "kept" for r in bracket) == 4 and sum(r[r1] == "eliminated" for r in bracket) == 3
    assert sum(r[r2] == "kept" for r in bracket) == 2
    assert bracket[0]["status"] == "winner"          # survivors first, best final first
    assert bracket[-1]["id"] == str(FAILED) and bracket[-1][r1] == ""

    cost = {r["quantity"]: r for r in read_csv(complete_run / "report" / "cost.csv")}
    epochs = float(cost["epochs"]["this_search"])
    assert float(cost["epochs"]["ratio_full_over_search"]) == pytest.approx(N_CANDIDATES * 6 / epochs)
    winner = read_csv(complete_run / "report" / "winner.csv")
    assert [r["model"] for r in winner] == [f"winner {results['winner']['id']}", "dense"]


def test_correlations_equal_scipy(complete_run):
    write_report(complete_run)
    results = make_results("complete")
    done = [c for c in results["candidates"] if c["final_valid_ppl"] is not None]
    final = [c["final_valid_ppl"] for c in done]
    distance = [c["scores"]["1"] for c in done]
    ppl = [c["valid_ppl_by_epoch"]["1"] for c in done]
    table = json.loads((complete_run / "report" / "correlations.json").read_text())["rows"]
    assert [row["n"] for row in table] == [len(done)] * 2 == [7, 7]
    for row, early in zip(table, (distance, ppl)):
        assert row["spearman"] == pytest.approx(stats.spearmanr(early, final).statistic, abs=1e-12)
        assert row["kendall"] == pytest.approx(stats.kendalltau(early, final).statistic, abs=1e-12)
        assert row["spearman_p"] == pytest.approx(stats.spearmanr(early, final).pvalue, abs=1e-12)


def test_running_search_gives_a_marked_partial_report(running_run):
    files = write_report(running_run)
    assert files.partial
    page = files.index.read_text()
    assert 'id="partial"' in page and "still running" in page
    assert "no candidate has a final perplexity yet" in page
    assert "no winner yet" in page
    assert {p.stem for p in files.figures} >= {"spectra_round0_e1", "spectra_round1_e2", "bracket", "cost"}
    corr = json.loads((running_run / "report" / "correlations.json").read_text())["rows"]
    assert all(row["spearman"] is None and row["n"] == 0 for row in corr)
    bracket = read_csv(running_run / "report" / "bracket.csv")
    assert sum(r["round 1 (e2)"] == "scoring" for r in bracket) == 4


def test_missing_pieces_are_notes_not_crashes(tmp_path):
    bare = write_run(tmp_path / "bare", {"status": "running", "strategy": "lsh", "metric": "ls"})
    files = write_report(bare)
    page = files.index.read_text()
    assert "no candidates recorded yet" in page and "no round recorded yet" in page
    assert files.figures == []


def test_loss_metric_distances_come_from_spectra(tmp_path):
    run = write_run(tmp_path / "loss", make_results("complete", metric="loss"))
    write_report(run)
    rows = json.loads((run / "report" / "correlations.json").read_text())["rows"]
    assert rows[0]["n"] == 7 and rows[0]["spearman"] is not None


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "holds no results.json"),
    (lambda p: write_run(p, {}) and (p / "results.json").write_text("{\"status\": "), "is not valid JSON"),
    (lambda p: write_run(p, {"status": "done"}), "status 'done' is not one of"),
    (lambda p: write_run(p, {"status": "complete", "candidates": {"a": 1}}), "'candidates' must be a JSON list"),
])
def test_bad_input_is_a_one_line_user_error(tmp_path, capsys, setup, message):
    run = tmp_path / "run"
    setup(run)
    with pytest.raises(UserError, match=message) as info:
        write_report(run)
    assert "\n" not in str(info.value)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_writes_to_out(complete_run, tmp_path, capsys):
    out = tmp_path / "elsewhere"
    assert main(["report", str(complete_run), "--out", str(out)]) == 0
    assert (out / "index.html").is_file() and str(out / "index.html") in capsys.readouterr().out


def test_the_candidates_section_has_one_heading_and_duplicates_name_whom_they_repeat(tmp_path):
    results = make_results("complete")
    results["candidates"][3].update(status="duplicate", duplicate_of=1)
    run = write_run(tmp_path / "dup", results)
    page = write_report(run).index.read_text()
    assert page.count(">Candidates<") == 1
    assert "<h3>Settings, scores and perplexities of every candidate</h3>" in page
    assert "1 duplicate(s), not trained: 3 repeats 1" in page
    rows = read_csv(run / "report" / "candidates.csv")
    assert [r["duplicate_of"] for r in rows if r["id"] == "3"] == ["1"]
