"""A search's `RUN_DIR/results.json` (read by `hyperprune.run_files`), made into one object the
report can ask questions of.

`run_search` returns this object for the file it has just written; `load_results(run_dir)` reads it
back later (both are public: `hyperprune.run_search`, `hyperprune.load_results`).

The search writes the file atomically after every change, with "status": "running" until it ends,
so a report can be made at any moment. Only the top-level shape is checked strictly (bad input is a
one-line `UserError`); anything a running or failed search has not produced yet reads as missing,
and the report says so instead of failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperprune.errors import UserError
from hyperprune.run_files import read_results, results_path

STATUSES = ("running", "complete")


@dataclass
class SearchResults:
    run_dir: Path
    status: str                                   # running | complete
    strategy: str
    metric: str
    config: dict[str, Any]
    winner: dict[str, Any] | None
    dense: dict[str, Any]
    candidates: list[dict[str, Any]]
    rounds: list[dict[str, Any]]
    cost: dict[str, Any]
    seeds: dict[str, Any] | None = None              # search.final_seeds > 1: per-seed finals (results.py)
    notes: list[str] = field(default_factory=list)   # problems found while reading, for the page
    stopped: str | None = None     # why an unfinished search is not running ("process 123 is gone"), if known

    @property
    def running(self) -> bool:
        """Not complete (results.json says "running" until the end, whether or not a process is)."""
        return self.status != "complete"

    @property
    def unfinished(self) -> str:
        """An unfinished search in words: "still running", or "stopped (why)"."""
        return f"stopped ({self.stopped})" if self.stopped else "still running"

    @property
    def first_epoch(self) -> int | None:
        """e0: the epoch of the first scoring round (else the earliest epoch any candidate scored)."""
        if self.rounds:
            return int(self.rounds[0]["epoch"])
        epochs = [int(e) for c in self.candidates for e in (c.get("scores") or {})]
        return min(epochs) if epochs else None

    @property
    def round_epochs(self) -> list[int]:
        return [int(r["epoch"]) for r in self.rounds]

    def candidate(self, candidate_id: Any) -> dict[str, Any] | None:
        for c in self.candidates:
            if str(c.get("id")) == str(candidate_id):
                return c
        return None

    def to_dict(self) -> dict[str, Any]:
        """The object of results.json again, key for key, as the search wrote it (`search --json`)."""
        out = {"status": self.status, "strategy": self.strategy, "metric": self.metric, "config": self.config,
               "winner": self.winner, "dense": self.dense, "candidates": self.candidates, "rounds": self.rounds,
               "cost": self.cost}
        if self.seeds is not None:                   # absent with one seed, as in the file
            out["seeds"] = self.seeds
        return out


def load_results(run_dir: str | Path) -> SearchResults:
    """Read RUN_DIR/results.json, or raise a one-line UserError saying what is wrong with it."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise UserError(f"run directory '{run_dir}' does not exist; give the run_dir of a search")
    if not run_dir.is_dir():
        raise UserError(f"'{run_dir}' is not a directory; give the run_dir of a search")
    path = results_path(run_dir)
    if not path.is_file():
        raise UserError(f"'{run_dir}' holds no results.json; is it a search's run directory? "
                        f"(a search writes results.json once its first candidate starts)")
    return parse_search_results(read_results(run_dir), run_dir)


def parse_search_results(data: Any, run_dir: Path) -> SearchResults:
    where = results_path(run_dir)
    if not isinstance(data, dict):
        raise UserError(f"'{where}' must hold a JSON object, got {type(data).__name__}")
    status = data.get("status")
    if status not in STATUSES:
        raise UserError(f"'{where}': status {status!r} is not one of {', '.join(STATUSES)}")
    notes: list[str] = []

    def section(key: str, kind: type, default):
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, kind):
            raise UserError(f"'{where}': '{key}' must be a JSON {'object' if kind is dict else 'list'}, "
                            f"got {type(value).__name__}")
        return value

    candidates = section("candidates", list, [])
    for i, c in enumerate(candidates):
        if not isinstance(c, dict) or "id" not in c:
            raise UserError(f"'{where}': candidates[{i}] must be an object with an 'id'")
    rounds = section("rounds", list, [])
    for i, r in enumerate(rounds):
        if not isinstance(r, dict) or not isinstance(r.get("epoch"), int):
            raise UserError(f"'{where}': rounds[{i}] must be an object with an integer 'epoch'")
    winner = data.get("winner")
    if winner is not None and not isinstance(winner, dict):
        raise UserError(f"'{where}': 'winner' must be an object or null, got {type(winner).__name__}")
    if not candidates:
        notes.append("no candidates recorded yet")
    return SearchResults(
        run_dir=run_dir, status=status, strategy=str(data.get("strategy", "?")),
        metric=str(data.get("metric", "?")), config=section("config", dict, {}), winner=winner,
        dense=section("dense", dict, {}), candidates=candidates, rounds=rounds,
        cost=section("cost", dict, {}), seeds=section("seeds", dict, None), notes=notes,
    )


def number(value: Any) -> float | None:
    """A finite float, or None for missing / null / non-numeric / NaN values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def by_epoch(mapping: Any, epoch: int | None) -> Any:
    """`mapping[str(epoch)]` for the per-epoch dicts of results.json (keys are strings), else None."""
    if epoch is None or not isinstance(mapping, dict):
        return None
    return mapping.get(str(epoch))
