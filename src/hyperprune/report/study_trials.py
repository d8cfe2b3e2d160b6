"""The Optuna study behind a search, read straight from its storage (when there is one).

results.json is the search's own account; the study is Optuna's: every trial with its state,
parameters, values and times, including trials results.json may not list yet. The report shows both.
A missing, unreadable or unreachable storage gives a note, never an error: the report stands without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna


@dataclass
class StudyTrials:
    storage: str
    study_name: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)   # one per trial, flat
    note: str | None = None                                     # why there are no rows, if none


def study_storage(run_dir: Path, config: dict[str, Any]) -> str:
    """config.search.storage, else the default sqlite:///RUN_DIR/study.db."""
    search = config.get("search") if isinstance(config.get("search"), dict) else {}
    return search.get("storage") or f"sqlite:///{(Path(run_dir) / 'study.db').as_posix()}"


def load_study_trials(run_dir: Path, config: dict[str, Any]) -> StudyTrials:
    storage = study_storage(run_dir, config)
    out = StudyTrials(storage=storage)
    if storage.startswith("sqlite:///"):
        # Opening a missing sqlite file would create an empty database in the user's run directory.
        db = Path(storage[len("sqlite:///"):])
        if not db.is_file():
            out.note = f"no study database at {db}; trials below come from results.json only"
            return out
    try:
        names = optuna.study.get_all_study_names(storage=storage)
        search = config.get("search") if isinstance(config.get("search"), dict) else {}
        wanted = search.get("study_name") or Path(run_dir).resolve().name   # the search's default name
        if wanted in names:
            name = wanted
        elif len(names) == 1:
            name = names[0]
        elif not names:
            out.note = f"the storage {storage} holds no study yet"
            return out
        else:
            out.note = (f"the storage {storage} holds {len(names)} studies ({', '.join(names[:5])}) and the "
                        f"config names none of them (search.study_name)")
            return out
        study = optuna.load_study(study_name=name, storage=storage)
        out.study_name = name
        out.rows = [_trial_row(t) for t in study.get_trials(deepcopy=False)]
    except Exception as exc:  # noqa: BLE001 -- a report must not die on a storage it cannot read
        out.note = f"could not read the study at {storage}: {type(exc).__name__}: {exc}".splitlines()[0]
    return out


def _trial_row(trial) -> dict[str, Any]:
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    row: dict[str, Any] = {
        "trial": trial.number,
        "state": trial.state.name.lower(),
        "value": trial.value if trial.values is not None and len(trial.values) == 1 else None,
        "started": trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None,
        "duration_s": duration,
    }
    for key, value in sorted(trial.params.items()):
        row[f"param.{key}"] = value
    for key, value in sorted(trial.user_attrs.items()):
        if isinstance(value, (str, int, float, bool)) or value is None:
            row[f"attr.{key}"] = value
    return row
