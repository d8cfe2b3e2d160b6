"""Every private attribute of Optuna this package reads, in one place, each with its reason.

- A trial's storage and id (`Study._storage`, `Study._study_id`, `_trial_id`). Optuna's public API
  writes to a trial only through the `Trial` that `study.ask()` returned, in the process that asked
  it. A search has no such process: a worker takes over a job (a trial of the job queue, or an ASHA
  trial of the main study) that another, perhaps killed, process asked for, and must write to it by
  id through the study's storage. Neither the storage of a study nor the id of a trial is public
  (`FrozenTrial.number` is per study, the storage's methods take the global id).
- The grid sampler's grid (`GridSampler._all_grids`, `_search_space`) and the system attributes it
  reads (`grid_id`, `search_space`). `proposals.PoolGridSampler` draws a pool larger than the grid
  by pinning each trial past it to a grid point before Optuna's own `before_trial` would pick one,
  which Optuna offers no public way to do.
- The heartbeat table of RDB storage (`optuna.storages._rdb.models.TrialHeartbeatModel`).
  `hyperprune status` reports how long ago each running job's worker was heard from; Optuna keeps
  that time in its own table and has no public reader of it.

All of these have been stable since Optuna 3.0. If a release renames one, this is the one file to
change.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import BaseStorage


def storage_of(study: optuna.Study) -> BaseStorage:
    return study._storage


def study_id(study: optuna.Study) -> int:
    return study._study_id


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    return trial._trial_id


def grid_size(sampler: optuna.samplers.GridSampler) -> int:
    """How many points the grid sampler's grid has."""
    return len(sampler._all_grids)


def grid_point_of(trial: Any) -> int | None:
    """The grid point a trial is pinned to, None before one is."""
    return trial.system_attrs.get("grid_id")


def pin_to_grid_point(sampler: optuna.samplers.GridSampler, study: optuna.Study, trial: Any,
                      point: int) -> None:
    """Make `trial` sample grid point `point` of `sampler`, as GridSampler.before_trial would."""
    storage_of(study).set_trial_system_attr(trial_id(trial), "search_space", sampler._search_space)
    storage_of(study).set_trial_system_attr(trial_id(trial), "grid_id", point)


def rdb_heartbeat_ages(storage, trial_ids: list[int]) -> dict[int, float]:
    """Seconds since each trial's last heartbeat, by the database's clock, on RDB storage with
    heartbeats; {} elsewhere."""
    # Imported here: Optuna's ORM models load only with RDB storage, and most runs use a file.
    import sqlalchemy
    from optuna.storages import RDBStorage
    from optuna.storages._rdb import models

    if not isinstance(storage, RDBStorage) or not trial_ids:
        return {}
    session = storage.scoped_session()
    try:
        now = session.execute(sqlalchemy.func.now()).scalar().replace(tzinfo=None)
        rows = session.query(models.TrialHeartbeatModel).filter(
            models.TrialHeartbeatModel.trial_id.in_(trial_ids)).all()
        return {row.trial_id: (now - row.heartbeat.replace(tzinfo=None)).total_seconds() for row in rows}
    except Exception:  # noqa: BLE001 -- a status line must not die on Optuna's private schema
        return {}
    finally:
        session.close()
