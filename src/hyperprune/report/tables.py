"""The report's tables: candidates, elimination bracket, cost, rank correlations, Optuna trials.

Every table is flat rows of plain values, so one object feeds the HTML page, the CSV file and the
JSON file alike (the CSV and JSON hold the same rows; nested values are spread into columns such
as `param.death` and `score@e3`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperprune.report.early_signals import EarlySignal
from hyperprune.search.search_results import SearchResults, by_epoch, number
from hyperprune.report.study_trials import StudyTrials


@dataclass
class Table:
    name: str                                   # file stem: NAME.csv, NAME.json
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in self.columns})
        return out.getvalue()

    def to_json(self) -> str:
        return json.dumps({"title": self.title, "columns": self.columns, "rows": self.rows,
                           "notes": self.notes}, indent=2, default=str) + "\n"

    def write(self, folder: Path) -> list[Path]:
        paths = [folder / f"{self.name}.csv", folder / f"{self.name}.json"]
        paths[0].write_text(self.to_csv(), encoding="utf-8")
        paths[1].write_text(self.to_json(), encoding="utf-8")
        return paths


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def _columns(rows: list[dict], leading: list[str]) -> list[str]:
    """`leading`, then every other key in order of first appearance."""
    columns = list(leading)
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def score_epochs(results: SearchResults) -> list[int]:
    """Every epoch at which any candidate was scored, ascending (round epochs included)."""
    epochs = set(results.round_epochs)
    for c in results.candidates:
        epochs.update(int(e) for e in (c.get("scores") or {}))
    return sorted(epochs)


def candidate_table(results: SearchResults) -> Table:
    e0 = results.first_epoch
    epochs = score_epochs(results)
    param_keys: list[str] = []
    for c in results.candidates:
        param_keys += [k for k in (c.get("params") or {}) if k not in param_keys]
    rows = []
    for c in results.candidates:
        params = c.get("params") or {}
        row: dict[str, Any] = {"id": str(c["id"]), "status": c.get("status")}
        row.update({f"param.{k}": params.get(k) for k in param_keys})
        row.update({f"score@e{e}": number(by_epoch(c.get("scores"), e)) for e in epochs})
        row[f"valid_ppl@e{e0}"] = number(by_epoch(c.get("valid_ppl_by_epoch"), e0))
        row.update({
            "final_valid_ppl": number(c.get("final_valid_ppl")),
            "final_test_ppl": number(c.get("final_test_ppl")),
            "epochs_trained": c.get("epochs_trained"),
            "train_s": number(c.get("train_s")),
            "spectrum_s": number(c.get("spectrum_s")),
            "eliminated_in_round": c.get("eliminated_in_round"),
            "duplicate_of": c.get("duplicate_of"),      # whose settings a duplicate repeats
            "failure": c.get("failure"),
        })
        rows.append(row)
    notes = []
    failed = [r["id"] for r in rows if r["status"] == "failed"]
    if failed:
        notes.append(f"{len(failed)} candidate(s) failed: {', '.join(failed)} (reason in the 'failure' column)")
    duplicates = [f"{r['id']} repeats {r['duplicate_of']}" for r in rows if r["duplicate_of"] is not None]
    if duplicates:
        notes.append(f"{len(duplicates)} duplicate(s), not trained: {', '.join(duplicates)}")
    # The section is headed "Candidates" already: the table says what its rows hold.
    return Table("candidates", "Settings, scores and perplexities of every candidate",
                 _columns(rows, ["id", "status"]), rows, notes)


def bracket_table(results: SearchResults) -> Table:
    """One row per candidate, one score/outcome pair per round: winner, finalists, then by rounds survived."""
    rows = []
    rounds = results.rounds
    for c in results.candidates:
        cid = str(c["id"])
        row: dict[str, Any] = {"id": cid, "status": c.get("status")}
        reached = 0
        for r in rounds:
            key = f"round {r['round']} (e{r['epoch']})"
            in_round = cid in map(str, r.get("candidates", []))
            scores = r.get("scores") or {}
            row[f"{key} score"] = number(scores.get(cid)) if in_round else None
            if not in_round:
                row[key] = None
            elif "kept" in r and r["kept"] is not None:
                row[key] = "kept" if cid in map(str, r["kept"]) else "eliminated"
            else:
                row[key] = "scoring"
            reached += in_round
        row["final_valid_ppl"] = number(c.get("final_valid_ppl"))
        row["_reached"] = reached
        rows.append(row)
    last = f"round {rounds[-1]['round']} (e{rounds[-1]['epoch']}) score" if rounds else None

    standing = {"winner": 0, "finalist": 1}

    def order(row):
        final = row["final_valid_ppl"]
        last_score = row.get(last) if last else None
        return (standing.get(row["status"], 2), -row["_reached"], final if final is not None else math.inf,
                last_score if last_score is not None else math.inf)

    rows.sort(key=order)
    for row in rows:
        del row["_reached"]
    notes = [] if rounds else ["no round recorded yet"]
    return Table("bracket", "Score and outcome of every candidate in each round", _columns(rows, ["id", "status"]),
                 rows, notes)


def cost_table(results: SearchResults) -> Table:
    cost = results.cost
    epochs = number(cost.get("epochs_total"))
    full_epochs = number(cost.get("full_training_epochs"))
    train_s = number(cost.get("train_s"))
    per_epoch = train_s / epochs if train_s is not None and epochs else None
    full_wall = full_epochs * per_epoch if full_epochs is not None and per_epoch is not None else None
    rows = [
        {"quantity": "epochs", "this_search": epochs, "full_training_of_every_candidate": full_epochs},
        {"quantity": "wall_s", "this_search": number(cost.get("wall_s")),
         "full_training_of_every_candidate": full_wall},
        {"quantity": "train_s", "this_search": train_s, "full_training_of_every_candidate": full_wall},
        {"quantity": "spectrum_s", "this_search": number(cost.get("spectrum_s")),
         "full_training_of_every_candidate": None},
    ]
    for row in rows:
        mine, full = row["this_search"], row["full_training_of_every_candidate"]
        row["ratio_full_over_search"] = full / mine if mine and full is not None else None
    notes = []
    if full_wall is not None:
        notes.append(f"full training's time is estimated: its epochs x this search's mean training time "
                     f"per epoch ({per_epoch:.1f} s)")
    if epochs is None:
        notes.append("no cost recorded yet")
    return Table("cost", "Epochs and time: this search against full training",
                 ["quantity", "this_search", "full_training_of_every_candidate", "ratio_full_over_search"],
                 rows, notes)


def correlation_table(signals: list[EarlySignal]) -> Table:
    rows = []
    for s in signals:
        corr = s.correlation
        rows.append({"signal": s.label, "epoch": s.epoch, "n": corr.n if corr else 0,
                     "spearman": corr.spearman if corr else None,
                     "spearman_p": corr.spearman_p if corr else None,
                     "kendall": corr.kendall if corr else None,
                     "kendall_p": corr.kendall_p if corr else None,
                     "note": "; ".join(s.notes) or None})
    return Table("correlations", "Rank correlation with final validation perplexity",
                 ["signal", "epoch", "n", "spearman", "spearman_p", "kendall", "kendall_p", "note"], rows)


def trials_table(study: StudyTrials) -> Table:
    notes = [study.note] if study.note else []
    title = f"Optuna trials (study '{study.study_name}')" if study.study_name else "Optuna trials"
    return Table("trials", title, _columns(study.rows, ["trial", "state", "value", "started", "duration_s"]),
                 study.rows, notes)


def seed_table(results: SearchResults) -> Table:
    """search.final_seeds > 1: each finished model's final perplexities, one row per seed."""
    seeds = results.seeds or {}
    rows = []
    for name, model in (seeds.get("models") or {}).items():
        order = seeds.get("dense_seeds" if name == "dense" else "seeds") or []
        for k, (valid, test) in enumerate(zip(model.get("valid_ppl", []), model.get("test_ppl", []))):
            rows.append({"model": "dense" if name == "dense" else f"candidate {name}",
                         "seed": order[k] if k < len(order) else None, "valid_ppl": number(valid),
                         "test_ppl": number(test), "valid_mean": number(model.get("valid_mean")),
                         "valid_sd": number(model.get("valid_sd"))})
    return Table("seeds", f"Final perplexity under {seeds.get('n', '?')} seeds",
                 ["model", "seed", "valid_ppl", "test_ppl", "valid_mean", "valid_sd"], rows)
