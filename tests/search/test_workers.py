"""Several workers on PostgreSQL (127.0.0.1:5432, database `test`): one search, no coordinator.

Skipped with a reason where no server answers. Each test uses its own study names and deletes them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from hyperprune.config import from_dict
from hyperprune.search import SearchConfig, run_search

from .conftest import tiny_search_raw
from .test_resume import comparable

pytestmark = pytest.mark.postgres


def _postgres_url() -> str | None:
    try:
        import psycopg2
    except ImportError:
        return None
    for user in ("postgres", "root"):
        try:
            psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user=user, connect_timeout=3).close()
            return f"postgresql://{user}@127.0.0.1:5432/test"
        except psycopg2.Error:
            continue
    return None


@pytest.fixture(scope="module")
def pg_url():
    url = _postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432 (database 'test', user postgres or root, trust auth)")
    return url


@pytest.fixture
def study_name(pg_url):
    name = f"hp-test-{uuid.uuid4().hex[:10]}"
    yield name
    storage = optuna.storages.RDBStorage(pg_url.replace("postgresql://", "postgresql+psycopg2://"))
    for suffix in ("", ".jobs"):
        try:
            optuna.delete_study(study_name=name + suffix, storage=storage)
        except KeyError:
            pass
    storage.engine.dispose()


SECTIONS = {"search": {"sampler": "tpe", "n_candidates": 8, "batch": 4, "heartbeat_interval": 1}}
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def hyperprune(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hyperprune.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=ENV)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_workers_one_killed_give_the_single_process_result(tiny_corpus_dir, tmp_path, pg_url, study_name):
    single = run_search(from_dict(SearchConfig, tiny_search_raw(tiny_corpus_dir, tmp_path / "single", **SECTIONS)),
                        verbose=False)

    raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "shared", **SECTIONS)
    raw["search"].update(storage=pg_url, study_name=study_name)
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(raw))
    storage = optuna.storages.RDBStorage(pg_url.replace("postgresql://", "postgresql+psycopg2://"))

    owner = hyperprune("search", str(config))
    wait_for(lambda: study_name in [s.study_name for s in optuna.get_all_study_summaries(storage)], 120,
             "the study to be created")
    workers = [hyperprune("worker", "--storage", pg_url, "--study", study_name) for _ in range(2)]
    victim = workers[0]

    def victim_job():
        try:
            jobs = optuna.load_study(study_name=study_name + ".jobs", storage=storage)
        except KeyError:
            return None
        return next((t for t in jobs.get_trials(deepcopy=False) if t.state == TrialState.RUNNING
                     and t.user_attrs.get("worker", "").endswith(f":{victim.pid}")), None)

    taken = wait_for(victim_job, 180, "the second process to claim a job")
    victim.send_signal(signal.SIGKILL)                       # mid-candidate
    victim.wait()

    owner_out, _ = owner.communicate(timeout=600)
    other_out, _ = workers[1].communicate(timeout=120)
    assert owner.returncode == 0, owner_out
    assert workers[1].returncode == 0, other_out
    assert "winner (candidate" in owner_out

    results = json.loads((tmp_path / "shared" / "results.json").read_text())
    assert comparable(results) == comparable(single)
    for a, b in zip(results["candidates"], single["candidates"]):
        assert a["scores"] == pytest.approx(b["scores"], rel=1e-9, abs=0)

    # the killed worker's job was failed by heartbeat and taken over, and completed exactly once
    jobs = optuna.load_study(study_name=study_name + ".jobs", storage=storage).get_trials(deepcopy=False)
    key = taken.user_attrs["job"]
    states = Counter(t.state for t in jobs if t.user_attrs.get("job") == key)
    assert states[TrialState.FAIL] >= 1 and states[TrialState.COMPLETE] == 1
    completed = Counter(t.user_attrs["job"] for t in jobs if t.state == TrialState.COMPLETE)
    assert set(completed.values()) == {1}                     # no job done twice
    assert not [t for t in jobs if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # every unique candidate is recorded once in the main study: none duplicated, none lost
    record = optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False)
    per_candidate = Counter(t.user_attrs["candidate"] for t in record)
    unique = [c["id"] for c in results["candidates"] if c["status"] != "duplicate"]
    assert sorted(per_candidate) == sorted(unique) and set(per_candidate.values()) == {1}
    storage.engine.dispose()


def test_a_dropped_connection_is_retried_and_loses_nothing(tiny_corpus_dir, tmp_path, pg_url, study_name):
    app = f"hp-{uuid.uuid4().hex[:8]}"
    raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "run", search={"n_candidates": 4, "storage":
                          f"{pg_url}?application_name={app}", "study_name": study_name})
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(raw))
    import psycopg2
    user = pg_url.split("//")[1].split("@")[0]
    admin = psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user=user)
    admin.autocommit = True
    owner = hyperprune("search", str(config))
    lines = []
    for line in owner.stdout:
        lines.append(line)
        if " | epoch " in line and len([x for x in lines if " | epoch " in x]) == 3:
            with admin.cursor() as cursor:          # drop every connection the search holds
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                               (app,))
                assert cursor.rowcount >= 1
    owner.wait(timeout=300)
    admin.close()
    out = "".join(lines)
    assert owner.returncode == 0, out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "complete" and results["winner"] is not None
    assert all(c["status"] != "failed" for c in results["candidates"])
