"""The report reads the Optuna study straight from its storage, and stands without one."""

from __future__ import annotations

import json

import optuna
from synthetic_search import make_results, write_run

from hyperprune.report import write_report
from hyperprune.report.study_trials import load_study_trials


def test_trials_come_from_the_study_storage(tmp_path):
    run = write_run(tmp_path / "run", make_results("complete"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="lsh", storage=f"sqlite:///{run / 'study.db'}")
    for rate in (0.4, 0.5, 0.6):
        trial = study.ask({"death_rate": optuna.distributions.FloatDistribution(0.4, 0.9)})
        trial.set_user_attr("candidate", f"c{int(rate * 10)}")
        study.tell(trial, rate * 2)
    study.ask()   # one still running
    write_report(run)
    rows = json.loads((run / "report" / "trials.json").read_text())["rows"]
    assert [r["state"] for r in rows] == ["complete", "complete", "complete", "running"]
    assert [r["value"] for r in rows[:3]] == [0.8, 1.0, 1.2]
    assert rows[0]["attr.candidate"] == "c4"


def test_absent_storage_is_a_note_and_creates_nothing(tmp_path):
    run = write_run(tmp_path / "run", make_results("complete"))
    trials = load_study_trials(run, {})
    assert trials.rows == [] and "no study database" in trials.note
    assert not (run / "study.db").exists()


def test_unreachable_storage_is_a_note(tmp_path):
    run = write_run(tmp_path / "run", make_results("complete"))
    trials = load_study_trials(run, {"search": {"storage": "notadialect://nowhere/db"}})
    assert trials.rows == [] and "could not read the study" in trials.note
