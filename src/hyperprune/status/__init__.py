"""`hyperprune status RUN_DIR`: where a training run, a search or a search's exported winner
stands, read-only. The one home of status: `training` reads a training run's directory, `search` a
search's (its results.json and job queue); `report` asks `search` why an unfinished search stopped.

It sits above `train` and `search`, whose files it reads, and below `report` and the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hyperprune.errors import UserError
from hyperprune.run_files import RESULTS_NAME, is_winner_export, read_winner, results_path
from hyperprune.status.search import describe_search_status, search_status
from hyperprune.status.training import describe_train_status, train_status


def run_status(run_dir: str | Path) -> dict[str, Any]:
    """The status of a search or training run directory, or a search's exported winner (a UserError
    for anything else)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"run directory '{path}' does not exist; give a train or search run directory")
    if is_winner_export(path):
        return winner_status(path)
    if results_path(path).is_file() or (path / "search.yaml").is_file():
        return search_status(path)
    if (path / "config.yaml").is_file() or (path / "checkpoints").is_dir():
        return train_status(path)
    raise UserError(f"'{path}' holds no hyperprune run (no config.yaml, checkpoints/, search.yaml or "
                    f"{RESULTS_NAME}); give a train or search run directory")


def winner_status(path: Path) -> dict[str, Any]:
    """A search's exported winner: a finished model, described by its winner.json (no log of its own)."""
    about = read_winner(path)
    return {"kind": "winner", "run_dir": str(path), "state": "exported", **about}


def describe_status(s: dict[str, Any]) -> str:
    if s["kind"] == "train":
        return describe_train_status(s)
    if s["kind"] == "winner":
        return describe_winner_status(s)
    return describe_search_status(s)


def describe_winner_status(s: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in s["params"].items())
    return "\n".join([
        f"exported winner {s['run_dir']}: candidate {s['candidate']} of search '{s['study']}' ({s['search']})",
        f"  trained  {s['epochs']} epochs: valid ppl {s['valid_ppl']:.2f}, test ppl {s['test_ppl']:.2f}",
        f"  settings {settings}",
        f"  use      hyperprune evaluate {s['run_dir']} | hyperprune export {s['run_dir']} --format sparse | "
        f"hyperprune.load_model('{s['run_dir']}')"])
