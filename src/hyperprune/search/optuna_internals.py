"""The three private attributes of Optuna this package reads, in one place.

Optuna's public API writes to a trial only through the `Trial` that `study.ask()` returned, in the
process that asked it. A search has no such process: a worker takes over a job (a trial of the
job queue, or an ASHA trial of the main study) that another, perhaps killed, process asked for, and
must write to it by id through the study's storage; the grid sampler must tag a trial before
Optuna's own code does; `hyperprune status` reads heartbeats by trial id. Neither the storage of a
study nor the id of a trial is public (`FrozenTrial.number` is per study, the storage's methods
take the global id), so these read `Study._storage`, `Study._study_id` and `_trial_id`, which have
been stable since Optuna 3.0. If a release renames them, this is the one file to change.
"""

from __future__ import annotations

import optuna
from optuna.storages import BaseStorage


def storage_of(study: optuna.Study) -> BaseStorage:
    return study._storage


def study_id(study: optuna.Study) -> int:
    return study._study_id


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    return trial._trial_id
