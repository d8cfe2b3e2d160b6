"""`hyperprune report RUN_A RUN_B`: two searches side by side, e.g. LSH on the spectrum distance
against LSH on validation loss over the same pool.

Both results.json are read as the single report reads them (`load_results`), and the page is
made of the report's own tables and page (`Table`, `render_page`), so it looks and reads like it.
Four tables: the winner against the dense model, the cost, the rounds (who was kept), and each
candidate's outcome in both. Every table is also NAME.csv and NAME.json, and comparison.json holds
them all with the two run directories.

A value is shown as results.json holds it (rounded only on the page); `b_minus_a` is B's number
minus A's. "The same pool" means both searches hold the same candidate ids with the same settings,
which the rounds table needs before `kept_by_both` means anything.
"""

from __future__ import annotations

import datetime
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperprune.errors import UserError
from hyperprune.report.build import why_stopped
from hyperprune.report.context import render_context, title as search_title
from hyperprune.report.html import Section, render_page
from hyperprune.search.search_results import SearchResults, load_results, number
from hyperprune.report.tables import Table
from hyperprune.run_files import read_context

SIDES = ("a", "b")


@dataclass
class ComparisonFiles:
    index: Path
    json: Path
    tables: list[Path] = field(default_factory=list)
    partial: bool = False            # either search has not finished


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _difference(a: Any, b: Any) -> float | int | None:
    """b - a; counts (epochs, parameters) stay whole numbers, so the page does not show 3 as 3.000."""
    if _whole(a) and _whole(b):
        return b - a
    a, b = number(a), number(b)
    return b - a if a is not None and b is not None else None


def _row(quantity: str, a: Any, b: Any) -> dict[str, Any]:
    return {"quantity": quantity, "a": a, "b": b, "b_minus_a": _difference(a, b)}


def _text_row(quantity: str, a: Any, b: Any) -> dict[str, Any]:
    """A row whose values are words or ids (status, metric, winner): no difference."""
    return {"quantity": quantity, "a": a, "b": b, "b_minus_a": None}


COLUMNS = ["quantity", "a", "b", "b_minus_a"]


def same_pool(a: SearchResults, b: SearchResults) -> bool:
    """The same candidate ids with the same settings in both searches."""
    settings = [{str(c["id"]): c.get("params") for c in r.candidates} for r in (a, b)]
    return bool(settings[0]) and settings[0] == settings[1]


def winner_comparison(a: SearchResults, b: SearchResults) -> Table:
    def winner(r: SearchResults, key: str) -> Any:
        return (r.winner or {}).get(key)

    def over_dense(r: SearchResults) -> float | None:
        return _difference(r.dense.get("test_ppl"), winner(r, "test_ppl"))

    rows = [
        _text_row("status", a.status, b.status),
        _text_row("strategy", a.strategy, b.strategy),
        _text_row("metric", a.metric, b.metric),
        _row("candidates", len(a.candidates), len(b.candidates)),
        _text_row("winner", winner(a, "id"), winner(b, "id")),
        _text_row("winner settings", winner(a, "params"), winner(b, "params")),
        _row("winner valid_ppl", winner(a, "valid_ppl"), winner(b, "valid_ppl")),
        _row("winner test_ppl", winner(a, "test_ppl"), winner(b, "test_ppl")),
        _row("winner params_nonzero", winner(a, "params_nonzero"), winner(b, "params_nonzero")),
        _row("dense valid_ppl", a.dense.get("valid_ppl"), b.dense.get("valid_ppl")),
        _row("dense test_ppl", a.dense.get("test_ppl"), b.dense.get("test_ppl")),
        _row("winner test_ppl - dense test_ppl", over_dense(a), over_dense(b)),
    ]
    notes = [f"search {side.upper()} has no winner yet" for side, r in zip(SIDES, (a, b)) if r.winner is None]
    return Table("compare_winner", "Winner against the dense model", COLUMNS, rows, notes)


def cost_comparison(a: SearchResults, b: SearchResults) -> Table:
    def cost(r: SearchResults, key: str) -> Any:
        return r.cost.get(key)

    def with_dense(r: SearchResults) -> float | int | None:
        epochs, dense = cost(r, "epochs_total"), r.dense.get("epochs")
        if _whole(epochs) and _whole(dense):
            return epochs + dense
        epochs, dense = number(epochs), number(dense)
        return epochs + dense if epochs is not None and dense is not None else None

    def share(r: SearchResults) -> float | None:
        epochs, full = number(cost(r, "epochs_total")), number(cost(r, "full_training_epochs"))
        return epochs / full if epochs is not None and full else None

    rows = [
        _row("candidate epochs", cost(a, "epochs_total"), cost(b, "epochs_total")),
        _row("dense epochs", a.dense.get("epochs"), b.dense.get("epochs")),
        _row("epochs with the dense model", with_dense(a), with_dense(b)),
        _row("full training's candidate epochs", cost(a, "full_training_epochs"), cost(b, "full_training_epochs")),
        _row("candidate epochs / full training's", share(a), share(b)),
        _row("wall_s", cost(a, "wall_s"), cost(b, "wall_s")),
        _row("train_s", cost(a, "train_s"), cost(b, "train_s")),
        _row("spectrum_s", cost(a, "spectrum_s"), cost(b, "spectrum_s")),
    ]
    return Table("compare_cost", "Epochs and time", COLUMNS, rows,
                 ["wall_s is each search's own machine and load: compare it only between runs made alike"])


def rounds_comparison(a: SearchResults, b: SearchResults, pooled: bool) -> Table:
    rows = []
    for number_ in range(max(len(a.rounds), len(b.rounds))):
        row: dict[str, Any] = {"round": number_}
        kept = []
        for side, r in zip(SIDES, (a, b)):
            held = r.rounds[number_] if number_ < len(r.rounds) else {}
            row[f"epoch_{side}"] = held.get("epoch")
            row[f"scored_{side}"] = len(held.get("candidates") or [])
            row[f"kept_{side}"] = held.get("kept")
            kept.append(held.get("kept"))
        both = pooled and all(k is not None for k in kept)
        row["kept_by_both"] = sorted(set(kept[0]) & set(kept[1]), key=str) if both else None
        rows.append(row)
    notes = [] if rows else ["neither search has a round (full or asha, or none closed yet)"]
    if rows and not pooled:
        notes.append("the two searches' candidates differ in settings: kept_by_both is left empty")
    columns = ["round", *(f"{what}_{side}" for side in SIDES for what in ("epoch", "scored", "kept")),
               "kept_by_both"]
    return Table("compare_rounds", "Who each round kept", columns, rows, notes)


def candidates_comparison(a: SearchResults, b: SearchResults) -> Table:
    ids = list(dict.fromkeys(str(c["id"]) for r in (a, b) for c in r.candidates))
    rows = []
    for cid in ids:
        found = [r.candidate(cid) for r in (a, b)]
        row: dict[str, Any] = {"id": cid, "same_settings": (found[0].get("params") == found[1].get("params"))
                               if all(found) else None}
        for side, c in zip(SIDES, found):
            c = c or {}
            row[f"outcome_{side}"] = c.get("status")
            row[f"eliminated_in_round_{side}"] = c.get("eliminated_in_round")
            row[f"final_valid_ppl_{side}"] = number(c.get("final_valid_ppl"))
            row[f"final_test_ppl_{side}"] = number(c.get("final_test_ppl"))
        rows.append(row)
    columns = ["id", "same_settings", *(f"{what}_{side}" for side in SIDES for what in
                                        ("outcome", "eliminated_in_round", "final_valid_ppl", "final_test_ppl"))]
    return Table("compare_candidates", "Each candidate in both searches", columns, rows)


def write_comparison(run_a: str | Path, run_b: str | Path, out_dir: str | Path | None = None) -> ComparisonFiles:
    a, b = load_results(run_a), load_results(run_b)
    if Path(run_a).resolve() == Path(run_b).resolve():
        raise UserError(f"'{run_a}' is given twice; compare two different search run directories")
    out = Path(out_dir) if out_dir is not None else Path(run_a) / f"compare-{Path(run_b).resolve().name}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create comparison directory '{out}' ({exc.strerror}); choose another with "
                        f"--out") from None

    for r in (a, b):
        if r.running:
            r.stopped = why_stopped(r.run_dir)         # "stopped (process N is gone)", as the report says
    pooled = same_pool(a, b)
    tables = [winner_comparison(a, b), cost_comparison(a, b), rounds_comparison(a, b, pooled),
              candidates_comparison(a, b)]
    files = ComparisonFiles(index=out / "index.html", json=out / "comparison.json",
                            partial=a.running or b.running)
    for table in tables:
        files.tables += table.write(out)

    runs = {side: {"run_dir": str(Path(r.run_dir).resolve()), "title": search_title(r, read_context(r.run_dir))}
            for side, r in zip(SIDES, (a, b))}
    files.json.write_text(json.dumps({"runs": runs, "same_pool": pooled,
                                      "tables": {t.name: json.loads(t.to_json()) for t in tables}},
                                     indent=2) + "\n", encoding="utf-8")

    now = datetime.datetime.now().isoformat(timespec="seconds")
    meta = (f"A <code>{html.escape(runs['a']['run_dir'])}</code> · B <code>{html.escape(runs['b']['run_dir'])}"
            f"</code> · {'the same pool' if pooled else 'different candidates'} · written {now}")
    unfinished = [f"{side.upper()} is {r.unfinished}" for side, r in zip(SIDES, (a, b)) if r.running]
    banner = (f"Partial comparison: search {' and '.join(unfinished)}; run `hyperprune report` again when it "
              f"has finished.") if unfinished else None
    summary = render_context([(f"search {side.upper()}", runs[side]["title"]) for side in SIDES])
    sections = [Section("Winner and dense model", tables=tables[:1]), Section("Cost", tables=tables[1:2]),
                Section("Rounds", tables=tables[2:3]), Section("Candidates", tables=tables[3:])]
    page = render_page(f"Two searches compared: {Path(run_a).resolve().name} (A) and "
                       f"{Path(run_b).resolve().name} (B)", meta, banner, summary, sections, [])
    files.index.write_text(page, encoding="utf-8")
    return files
