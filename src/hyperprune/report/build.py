"""`hyperprune report RUN_DIR`: results.json (+ the Optuna study) -> RUN_DIR/report/.

Writes index.html (self-contained), every figure as NAME.png and every table as NAME.csv and
NAME.json beside it. A running search gets a partial report, marked as such at the top.
"""

from __future__ import annotations

import datetime
import html
from dataclasses import dataclass, field
from pathlib import Path

from hyperprune.errors import UserError
from hyperprune.search.seed_noise import margin_of
from hyperprune.report.context import context_rows, render_context, tie_notes, title as search_title
from hyperprune.report.early_signals import distance_signal, valid_ppl_signal
from hyperprune.report.figures import (
    ReportFigure,
    bracket_figure,
    cost_figure,
    early_signal_figure,
    seed_figure,
    spectra_figures,
)
from hyperprune.report.html import Section, render_page, render_table
from hyperprune.search.search_results import SearchResults, load_results, number
from hyperprune.report.study_trials import load_study_trials
from hyperprune.report.tables import (
    Table,
    bracket_table,
    candidate_table,
    correlation_table,
    cost_table,
    seed_table,
    trials_table,
)
from hyperprune.run_files import read_context
from hyperprune.status.search import search_status
from hyperprune.status.training import gone_words


@dataclass
class ReportFiles:
    index: Path
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    partial: bool = False
    unfinished: str = ""          # a partial report's search: "still running" or "stopped (why)"


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> ReportFiles:
    results = load_results(run_dir)
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create report directory '{out}' ({exc.strerror}); choose another with --out") from None

    context = read_context(results.run_dir)
    if results.running:
        results.stopped = why_stopped(results.run_dir)
    sections = build_sections(results)
    files = ReportFiles(index=out / "index.html", partial=results.running, unfinished=results.unfinished)
    for section in sections:
        for figure in section.figures:
            path = out / f"{figure.name}.png"
            path.write_bytes(figure.png)
            files.figures.append(path)
        for table in section.tables:
            files.tables += table.write(out)
    winner = winner_table(results)
    files.tables += winner.write(out)

    now = datetime.datetime.now().isoformat(timespec="seconds")
    title = search_title(results, context)
    meta = (f"Run directory <code>{html.escape(str(Path(run_dir).resolve()))}</code> · status "
            f"<b>{html.escape(results.status)}</b> · {len(results.candidates)} candidates · "
            f"{len(results.rounds)} round(s) · report written {now}")
    banner = None
    if results.running and results.stopped:
        banner = (f"Partial report: the search stopped before it finished ({results.stopped}; run the same "
                  f"command to resume), as of {now}. Rounds, final perplexities and correlations cover "
                  f"only what has finished.")
    elif results.running:
        banner = (f"Partial report: the search is still running (as of {now}). Rounds, final perplexities "
                  f"and correlations cover only what has finished; run `hyperprune report` again later.")
    summary = render_context(context_rows(results, context)) + render_table(winner)
    page = render_page(title, meta, banner, summary, sections, results.notes + tie_notes(results))
    files.index.write_text(page, encoding="utf-8")
    return files


def why_stopped(run_dir: Path) -> str | None:
    """Why an unfinished search is not running, from `hyperprune status`'s view (None: it is running)."""
    try:
        status = search_status(run_dir)
    except (UserError, OSError, ValueError, KeyError, TypeError):
        return None                  # no readable config or storage: the report says what it can without it
    if status["state"] != "stopped":
        return None
    return gone_words(status["gone"]).strip()[1:-1] or "no process is working on it"


def build_sections(results: SearchResults) -> list[Section]:
    statuses = {str(c["id"]): str(c.get("status", "")) for c in results.candidates}
    spectra, spectra_notes = spectra_figures(results)

    distance, valid_ppl = distance_signal(results), valid_ppl_signal(results)
    signal_figures = [f for f in (
        early_signal_figure(distance, "distance_vs_final", "Spectrum distance at e0 vs final perplexity", statuses),
        early_signal_figure(valid_ppl, "valid_ppl_vs_final", "Validation perplexity at e0 vs final perplexity",
                            statuses),
    ) if f is not None]
    signal_notes = [] if signal_figures else ["no candidate has both an e0 value and a final perplexity yet"]

    bracket = bracket_table(results)
    cost = cost_table(results)
    study = load_study_trials(results.run_dir, results.config)
    candidates = candidate_table(results)
    seeds = [Section("Final perplexity under several seeds", figures=_present(seed_figure(results)),
                     tables=[seed_table(results)])] if results.seeds else []
    return seeds + [
        Section("Spectra at each round", figures=spectra, notes=spectra_notes or ([] if spectra else
                ["no spectra recorded yet"])),
        Section("Early signals against final perplexity", figures=signal_figures,
                tables=[correlation_table([distance, valid_ppl])], notes=signal_notes,
                text="<p>Fig. 1-B and 1-C of the LSH paper: how well a signal available after e0 epochs "
                     "ranks the candidates by their final validation perplexity.</p>"),
        Section("Elimination bracket", figures=_present(bracket_figure(results)), tables=[bracket]),
        Section("Cost", figures=_present(cost_figure(cost)), tables=[cost]),
        Section("Candidates", tables=[candidates]),
        Section("Optuna study", tables=[trials_table(study)],
                text=f"<p>Storage <code>{html.escape(study.storage)}</code>.</p>"),
    ]


def _present(figure: ReportFigure | None) -> list[ReportFigure]:
    return [figure] if figure is not None else []


def winner_table(results: SearchResults) -> Table:
    rows = []
    w = results.winner
    if w is not None:
        rows.append({"model": f"winner {w.get('id')}", "valid_ppl": number(w.get("valid_ppl")),
                     "test_ppl": number(w.get("test_ppl")), "params": w.get("params"),
                     "checkpoint": w.get("checkpoint"), "export_dir": w.get("export_dir")})
    if results.dense:
        rows.append({"model": "dense", "valid_ppl": number(results.dense.get("valid_ppl")),
                     "test_ppl": number(results.dense.get("test_ppl"))})
    notes = [] if w is not None else ["no winner yet" + (f" (the search is {results.unfinished})" if results.running else "")]
    margin = margin_of(results.seeds, results.winner, results.candidates)
    if margin is not None:
        notes.append(margin)
    return Table("winner", "Winner against the dense model",
                 ["model", "valid_ppl", "test_ppl", "params", "checkpoint", "export_dir"], rows, notes)


