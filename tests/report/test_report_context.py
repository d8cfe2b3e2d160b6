"""The report's header: a title in words, the context block, tie notes, units; tables fit 1400 px."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from synthetic_search import N_CANDIDATES, make_context, make_results, write_run
from test_report_in_browser import CHROMIUM

from hyperprune.report import write_report
from hyperprune.search import load_results
from hyperprune.report.context import context_rows, tie_notes
from hyperprune.report.figures import _largest_first


def test_title_and_context_from_context_json(tmp_path):
    results = make_results("complete")
    run = write_run(tmp_path / "run", results)
    (run / "context.json").write_text(json.dumps(make_context()))
    files = write_report(run)
    page = files.index.read_text()
    w = results["winner"]
    expected = (f"LSH search: {N_CANDIDATES} pruned variants of a 2-layer LSTM (4,653,200 parameters) at 90% "
                f"sparsity, ranked by their Lyapunov-spectrum distance to the dense model over 2 rounds; "
                f"candidate {w['id']} won (valid ppl {w['valid_ppl']:.2f})")
    assert f"<title>{expected}</title>" in page and f"<h1>{expected}</h1>" in page
    rows = dict(context_rows(load_results(run), make_context()))
    assert rows["data"].startswith("ptb (word-level): 929,589 train / 73,760 valid")
    assert rows["masked tensors"] == "layers.0.weight_hh (800x200), layers.1.weight_hh (800x200)"
    assert rows["rounds"] == "0 at epoch 1: 7 -> 4, 1 at epoch 2: 4 -> 2"
    assert rows["spectrum"] == "reference convention, exponents in log2 per step, distance l2"
    assert rows["seed"] == "1" and rows["device"] == "cpu, 4 thread(s)"
    assert rows["hyperprune"] == "0.1.0 (search), 0.1.0 (report)"
    assert '<dl class="context" id="context"><dt>data</dt><dd>ptb (word-level): 929,589 train' in page
    # a setting every candidate shares is said once, not repeated in a column (the CSV keeps it)
    assert "<p>Same for every row: param.growth = random.</p>" in page and "<th>param.<wbr>growth</th>" not in page
    assert "param.growth" in (run / "report" / "candidates.csv").read_text().splitlines()[0]


def test_without_context_json_the_header_says_what_is_not_recorded(complete_run):
    page = write_report(complete_run).index.read_text()
    assert "<dt>data</dt><dd>? (tokens not recorded: no context.json)</dd>" in page
    assert "<dt>device</dt><dd>not recorded</dd>" in page
    assert f"<h1>LSH search: {N_CANDIDATES} pruned variants of the model, ranked by" in page


def test_a_tie_that_decided_a_round_is_on_the_page(tmp_path):
    results = make_results("complete")
    first = results["rounds"][0]
    kept, out = first["kept"][-1], next(c for c in first["candidates"] if c not in first["kept"])
    first["scores"][str(out)] = first["scores"][str(kept)]          # the last kept and one eliminated tie
    lo, hi = sorted([kept, out])
    if lo != kept:                                                  # ids break ties: keep the lower id
        first["kept"] = [c if c != kept else lo for c in first["kept"]]
    run = write_run(tmp_path / "run", results)
    notes = tie_notes(load_results(run))
    score = first["scores"][str(kept)]
    assert notes == [f"Tie: round 0 at epoch 1: candidates {lo}, {hi} tie at score {score:.6g}; broken by "
                     f"candidate id: kept [{lo}], eliminated [{hi}]"]
    assert notes[0] in write_report(run).index.read_text()


def test_spectra_are_drawn_largest_first():
    assert _largest_first([-1.0, 0.5, float("nan"), -0.2]) == pytest.approx([0.5, -0.2, -1.0, float("nan")],
                                                                            nan_ok=True)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)")
def test_no_table_needs_horizontal_scrolling_at_1400_px(complete_run, tmp_path):
    files = write_report(complete_run)
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,2000", "--virtual-time-budget=10000",
               "--dump-dom", files.index.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    body = re.search(r"<body([^>]*)>", done.stdout).group(1)
    tables = len(re.findall(r'class="table-wrap"', done.stdout))
    assert tables == 5                          # winner, correlations, bracket, cost, candidates
    assert 'data-tables-overflowing="0"' in body, body


def test_spectra_figures_have_units_sorted_curves_and_legends_naming_round_and_epoch(complete_run, monkeypatch):
    from hyperprune.report import figures
    drawn = []
    monkeypatch.setattr(figures, "_png", lambda fig: drawn.append(fig) or b"")
    results = load_results(complete_run)
    made, _ = figures.spectra_figures(results)
    assert [f.name for f in made] == ["spectra_round0_e1", "spectra_round1_e2"]
    ax = drawn[0].axes[0]
    assert ax.get_ylabel() == "Lyapunov exponent (log2 per step)"      # reference convention (the default)
    assert ax.get_xlabel() == "exponent rank (largest first)"
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "round 0, epoch 1"
    labels = [t.get_text() for t in legend.get_texts()]
    first = results.rounds[0]
    assert labels[-1] == "dense, epoch 1"
    assert sorted(labels[:-1]) == sorted(f"candidate {c} {'kept' if c in first['kept'] else 'out'}"
                                         for c in first["candidates"])
    for line in ax.get_lines():
        y = [v for v in line.get_ydata() if v == v]
        assert y == sorted(y, reverse=True)                              # every curve largest first
