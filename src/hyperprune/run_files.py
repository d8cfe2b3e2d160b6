"""The run files a run directory holds for people and other tools: each is written and read here.

    results.json   a search's accounting (schema: search/results.py), rewritten after every change
    context.json   what a run ran on and how it was made (train/provenance.py, search/context.py)
    log.jsonl      one JSON object per trained epoch: a training run's (train/epoch_log.py), or a
                   search's, one per model and epoch (search/search_log.py)
    summary.json   a finished training run's final numbers (train/trainer.py `write_summary`)
    winner.json    what a search's exported winner is (search/results.py `export_winner`); its
                   presence marks a whole export, which `hyperprune status RUN_DIR/winner` reads

What goes into each is decided by the layer that knows it; the file names, the encoding and "written
completely or not at all" are decided once, here. Bottom layer, because `train` writes two of them
and `search`, `status` and `report` read them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from hyperprune.errors import UserError
from hyperprune.files import atomic_write_text

RESULTS_NAME = "results.json"
CONTEXT_NAME = "context.json"
LOG_NAME = "log.jsonl"
SUMMARY_NAME = "summary.json"
WINNER_NAME = "winner.json"


# -- results.json ---------------------------------------------------------------------------------


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def _write_json(path: Path, value: Any) -> Path:
    atomic_write_text(path, _json_text(value))
    return path


def results_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / RESULTS_NAME


def write_results(run_dir: str | Path, results: dict[str, Any]) -> Path:
    return _write_json(results_path(run_dir), results)


def read_results(run_dir: str | Path) -> Any:
    """What RUN_DIR/results.json holds (None without the file), or a one-line UserError when it is not
    UTF-8 JSON. Callers check its shape: a report strictly, `status` as far as it reads."""
    path = results_path(run_dir)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"'{path}' is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"'{path}' is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


# -- context.json ---------------------------------------------------------------------------------


def write_context(run_dir: str | Path, context: dict[str, Any]) -> Path:
    return _write_json(Path(run_dir) / CONTEXT_NAME, context)


def read_context(run_dir: str | Path) -> dict[str, Any] | None:
    """RUN_DIR/context.json, or None when it is missing or unreadable (a run made before it existed,
    or one that never started): readers fall back to what the config says."""
    try:
        return json.loads((Path(run_dir) / CONTEXT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- log.jsonl ------------------------------------------------------------------------------------


def write_log(run_dir: str | Path, entries: Iterable[dict[str, Any]]) -> Path:
    """Rewritten whole each time (a resumed run never holds a line twice); left alone when unchanged."""
    path = Path(run_dir) / LOG_NAME
    text = "".join(json.dumps(e) + "\n" for e in entries)
    if not path.exists() or path.read_text() != text:
        atomic_write_text(path, text)
    return path


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """RUN_DIR/log.jsonl's entries, in order ([] before the first epoch)."""
    path = Path(run_dir) / LOG_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- summary.json ---------------------------------------------------------------------------------


def save_summary(run_dir: str | Path, summary: dict[str, Any]) -> Path:
    return _write_json(Path(run_dir) / SUMMARY_NAME, summary)


def read_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """RUN_DIR/summary.json, or None before the run has finished once."""
    path = Path(run_dir) / SUMMARY_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# -- winner.json ----------------------------------------------------------------------------------


def winner_text(about: dict[str, Any]) -> str:
    """winner.json's exact text: an export compares it to tell whether it is already in place."""
    return _json_text(about)


def is_winner_export(path: str | Path) -> bool:
    return (Path(path) / WINNER_NAME).is_file()


def read_winner(path: str | Path) -> dict[str, Any]:
    return json.loads((Path(path) / WINNER_NAME).read_text(encoding="utf-8"))
