"""Several workers on one database: one search, no coordinator, a worker killed mid-job.

PostgreSQL at 127.0.0.1:5432 (database `test`, trust auth) and MySQL/MariaDB at 127.0.0.1:3306
(user root, empty password, database `test`); a test is skipped with its reason where its server does
not answer. Each test uses its own study names and deletes them.
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import uuid
from collections import Counter

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from hyperprune.cli import main
from hyperprune.config import from_dict
from hyperprune.search import SearchConfig, SearchResults, load_results, run_search
from hyperprune.search.storage import open_storage

from .conftest import tiny_search_raw
from .held_process import hyperprune_process as hyperprune
from .held_process import wait_for
from .test_resume import comparable

pytestmark = pytest.mark.slow


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


def _mysql_url() -> str | None:
    try:
        import pymysql
    except ImportError:
        return None
    try:
        pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                        connect_timeout=3).close()
    except pymysql.Error:
        return None
    return "mysql://root@127.0.0.1:3306/test"


SERVERS = {
    "postgresql": (_postgres_url, "no PostgreSQL at 127.0.0.1:5432 (database 'test', user postgres or root, "
                                  "trust auth), or psycopg2 is not installed"),
    "mysql": (_mysql_url, "no MySQL/MariaDB at 127.0.0.1:3306 (database 'test', user root, empty password), "
                          "or PyMySQL is not installed (pip install -e '.[mysql]')"),
}


@functools.cache
def server_url(kind: str) -> str | None:
    return SERVERS[kind][0]()


def url_or_skip(kind: str) -> str:
    url = server_url(kind)
    if url is None:
        pytest.skip(SERVERS[kind][1])
    return url


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mysql", marks=pytest.mark.mysql)])
def storage_url(request):
    return url_or_skip(request.param)


@pytest.fixture
def pg_url():
    return url_or_skip("postgresql")


@pytest.fixture
def study_name():
    name = f"hp-test-{uuid.uuid4().hex[:10]}"
    yield name
    for kind in SERVERS:
        url = server_url(kind)
        if url is None:
            continue
        storage = open_storage(url)
        for suffix in ("", ".jobs"):
            try:
                optuna.delete_study(study_name=name + suffix, storage=storage)
            except KeyError:
                pass
        storage.engine.dispose()


def load(storage, name: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return None


def running_job_of(storage, study_name: str, process: subprocess.Popen, kind: str):
    """The job trial `process` is running now, of that kind, or None."""
    jobs = load(storage, study_name + ".jobs")
    if jobs is None:
        return None
    return next((t for t in jobs.get_trials(deepcopy=False) if t.state == TrialState.RUNNING
                 and t.user_attrs.get("kind") == kind
                 and t.user_attrs.get("worker", "").endswith(f":{process.pid}")), None)


def start_shared_search(tmp_path, raw: dict, storage_url: str, study_name: str, storage, *, held: int,
                        kind: str, epoch: int):
    """`hyperprune search` on the shared study, then two `hyperprune worker`s once it exists; process
    `held` (0 the search, 1 or 2 a worker) runs the first job of `kind` and is held at the end of its
    epoch `epoch` (held_process.py), the others claim no such job before. Returns (search process,
    workers, the held process, the held job's trial)."""
    raw["search"].update(storage=storage_url, study_name=study_name)
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(raw))
    flag = tmp_path / "held"
    hooks = [("gate", kind, str(flag))] * 3
    hooks[held] = ("hold", kind, str(epoch), str(flag))
    owner = hyperprune("search", str(config), hook=hooks[0])
    # load this one study: listing every study on the server fails when another suite sharing it
    # deletes one of its own meanwhile ("Record does not exist")
    wait_for(lambda: load(storage, study_name) is not None, "the study to be created", watch=(owner,))
    workers = [hyperprune("worker", "--storage", storage_url, "--study", study_name, hook=hook)
               for hook in hooks[1:]]
    processes = (owner, *workers)
    wait_for(flag.exists, f"a process held at epoch {epoch} of a {kind} job", watch=processes)
    taken = running_job_of(storage, study_name, processes[held], kind)
    assert taken is not None and taken.user_attrs["job"] == flag.read_text()
    return owner, workers, processes[held], taken


def check_takeover(storage, study_name: str, taken) -> list:
    """The killed process's job was failed by heartbeat, taken over and completed exactly once; no
    job was done twice and none is left. Returns the job trials."""
    jobs = optuna.load_study(study_name=study_name + ".jobs", storage=storage).get_trials(deepcopy=False)
    states = Counter(t.state for t in jobs if t.user_attrs.get("job") == taken.user_attrs["job"])
    assert states[TrialState.FAIL] >= 1 and states[TrialState.COMPLETE] == 1
    completed = Counter(t.user_attrs["job"] for t in jobs if t.state == TrialState.COMPLETE)
    assert set(completed.values()) == {1}                     # no job done twice
    assert not [t for t in jobs if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    return jobs


def asha_trial_of(storage, study_name: str, job) -> optuna.trial.FrozenTrial:
    """The main-study trial of an ASHA job's candidate."""
    return next(t for t in optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False)
                if t.user_attrs.get("candidate") == job.user_attrs["candidate"])


def kill_and_finish(victim: subprocess.Popen, owner: subprocess.Popen, other: subprocess.Popen) -> tuple[str, str]:
    """SIGKILL `victim` mid-job; the other two finish the search. Returns their outputs."""
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    owner_out, _ = owner.communicate(timeout=600)
    other_out, _ = other.communicate(timeout=300)
    assert owner.returncode == 0, owner_out
    assert other.returncode == 0, other_out
    return owner_out, other_out


def assert_single_process_result(results: SearchResults, single: SearchResults) -> None:
    assert comparable(results) == comparable(single)
    for a, b in zip(results.candidates, single.candidates):
        assert a["scores"] == pytest.approx(b["scores"], rel=1e-9, abs=0)


LSH = {"search": {"sampler": "tpe", "n_candidates": 8, "batch": 4, "heartbeat_interval": 1}}


@pytest.fixture(scope="module")
def single_lsh(tiny_corpus_dir, tmp_path_factory):
    """The search in one process (SQLite), the result every storage must reproduce."""
    run_dir = tmp_path_factory.mktemp("single-lsh")
    return run_search(from_dict(SearchConfig, tiny_search_raw(tiny_corpus_dir, run_dir, **LSH)), verbose=False)


def test_three_workers_one_killed_give_the_single_process_result(tiny_corpus_dir, tmp_path, storage_url,
                                                                study_name, single_lsh):
    single = single_lsh
    storage = open_storage(storage_url)
    # a worker held mid-candidate: its first epoch trained and checkpointed, not yet scored
    owner, workers, victim, taken = start_shared_search(
        tmp_path, tiny_search_raw(tiny_corpus_dir, tmp_path / "shared", **LSH), storage_url, study_name, storage,
        held=1, kind="score", epoch=1)
    owner_out, worker_out = kill_and_finish(victim, owner, workers[1])     # mid-candidate
    assert "winner (candidate" in owner_out
    # a worker starts with the search's banner: the study, the model and its device
    assert f"search '{study_name}'" in worker_out and "device    cpu" in worker_out

    results = load_results(tmp_path / "shared")
    assert_single_process_result(results, single)

    check_takeover(storage, study_name, taken)
    # every unique candidate is recorded once in the main study: none duplicated, none lost
    record = optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False)
    per_candidate = Counter(t.user_attrs["candidate"] for t in record)
    unique = [c["id"] for c in results.candidates if c["status"] != "duplicate"]
    assert sorted(per_candidate) == sorted(unique) and set(per_candidate.values()) == {1}
    storage.engine.dispose()


@pytest.mark.postgres
def test_asha_with_the_search_process_killed_is_finished_and_published_by_a_worker(
        tiny_corpus_dir, tmp_path, pg_url, study_name, capsys):
    # rungs at epochs 1, 2 and the budget 4 (eta = 2), the tiny config's random sampler
    sections = {"train": {"epochs": 4},
                "search": {"strategy": "asha", "n_candidates": 6, "keep": 0.5, "heartbeat_interval": 1}}
    single = run_search(from_dict(SearchConfig, tiny_search_raw(tiny_corpus_dir, tmp_path / "single", **sections)),
                        verbose=False)
    storage = open_storage(pg_url)
    # The search process runs the first ASHA trial (candidate 0) alone up to epoch 3: it reported rungs 1
    # and 2 first, so was promoted at both, and is held training towards the budget.
    owner, workers, _, taken = start_shared_search(
        tmp_path, tiny_search_raw(tiny_corpus_dir, tmp_path / "shared", **sections), pg_url, study_name, storage,
        held=0, kind="asha", epoch=3)
    held = asha_trial_of(storage, study_name, taken)
    assert (held.user_attrs["candidate"], held.state, sorted(held.intermediate_values)) == (0, TrialState.RUNNING, [1, 2])
    owner.send_signal(signal.SIGKILL)                       # the search process itself, mid-trial
    owner.wait()
    outs = [w.communicate(timeout=600)[0] for w in workers]
    for worker, out in zip(workers, outs):
        assert worker.returncode == 0, out

    # the search is finished without a `search` re-run: the worker whose job ended it published it
    publishers = [out for out in outs if "results written to" in out]
    assert len(publishers) >= 1 and "winner (candidate" in publishers[0]
    results = load_results(tmp_path / "shared")
    assert results.status == "complete"

    # The same as one process wherever ASHA is deterministic: each candidate's settings (the sampler
    # is seeded per candidate) and its score and perplexity at every rung it reached, whoever ran it.
    # Which rungs it reached is not: a promotion compares with the trials that reported the rung
    # before it, and that order depends on the workers' timing (asha.py).
    for a, b in zip(results.candidates, single.candidates):
        assert (a["id"], a["params"]) == (b["id"], b["params"])
        common = set(a["scores"]) & set(b["scores"])
        assert "1" in common
        assert {e: a["scores"][e] for e in common} == pytest.approx({e: b["scores"][e] for e in common},
                                                                    rel=1e-9, abs=0)
        ppl = set(a["valid_ppl_by_epoch"]) & set(b["valid_ppl_by_epoch"])
        assert {e: a["valid_ppl_by_epoch"][e] for e in ppl} == \
               pytest.approx({e: b["valid_ppl_by_epoch"][e] for e in ppl}, rel=1e-9, abs=0)
        if a["final_valid_ppl"] is not None and b["final_valid_ppl"] is not None:
            assert a["final_test_ppl"] == pytest.approx(b["final_test_ppl"], rel=1e-9, abs=0)
    # a rung's best score is never stopped there; the winner is the best of the trials that finished
    for rung, nxt in (("1", "2"), ("2", "4")):
        reached = [c for c in results.candidates if rung in c["scores"]]
        best = min(c["scores"][rung] for c in reached)
        assert all(nxt in c["scores"] for c in reached if c["scores"][rung] == best)
    finishers = [c for c in results.candidates if c["final_valid_ppl"] is not None]
    assert results.winner["id"] == min(finishers, key=lambda c: (c["final_valid_ppl"], c["id"]))["id"]
    # Candidate 0 had passed its rungs when its process was killed, so it finished: a promotion once
    # granted stands. It is also one process's winner here, so the shared winner is at least as good.
    assert 0 in [c["id"] for c in finishers] and single.winner["id"] == 0
    assert results.winner["valid_ppl"] <= single.winner["valid_ppl"]

    # the exported winner is the winner, and evaluates to the reported numbers
    export = results.winner["export_dir"]
    assert export == str(tmp_path / "shared" / "winner")
    assert json.loads((tmp_path / "shared" / "winner" / "params.json").read_text()) == results.winner["params"]
    assert main(["evaluate", export, "--json", "--device", "cpu"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["valid_ppl"] == pytest.approx(results.winner["valid_ppl"], rel=1e-6)
    assert evaluated["test_ppl"] == pytest.approx(results.winner["test_ppl"], rel=1e-6)
    assert not list((tmp_path / "shared").glob(".winner.*"))   # no staging copy left behind

    check_takeover(storage, study_name, taken)
    # one main-study trial per candidate, each finished
    trials = optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False)
    assert sorted(t.user_attrs["candidate"] for t in trials) == list(range(6))
    assert all(t.state.is_finished() for t in trials)
    storage.engine.dispose()


@pytest.mark.postgres
def test_asha_in_candidate_order_with_a_worker_killed_gives_the_single_process_result(
        tiny_corpus_dir, tmp_path, pg_url, study_name):
    # candidate-order: a trial competes at a rung with the lower candidates only, waited for; with the
    # random sampler (seeded per candidate) the search is then one process's, whoever runs what
    sections = {"train": {"epochs": 4},
                "search": {"strategy": "asha", "n_candidates": 6, "keep": 0.5, "heartbeat_interval": 1,
                           "asha_promotion": "candidate-order"}}
    single = run_search(from_dict(SearchConfig, tiny_search_raw(tiny_corpus_dir, tmp_path / "single", **sections)),
                        verbose=False)
    # in one process the candidates run in id order, so the promotions are Optuna's own pruner's
    arrival = {**sections, "search": {**sections["search"], "asha_promotion": "arrival"}}
    assert comparable(single) == comparable(run_search(
        from_dict(SearchConfig, tiny_search_raw(tiny_corpus_dir, tmp_path / "arrival", **arrival)), verbose=False))
    assert [c["status"] for c in single.candidates].count("eliminated") >= 1   # the pruner did prune

    storage = open_storage(pg_url)
    # A worker runs the first trial (candidate 0) alone: promoted at rung 1, it is held training towards
    # rung 2, where the other trials then wait on it until it is taken over.
    owner, workers, victim, taken = start_shared_search(
        tmp_path, tiny_search_raw(tiny_corpus_dir, tmp_path / "shared", **sections), pg_url, study_name, storage,
        held=1, kind="asha", epoch=2)
    held = asha_trial_of(storage, study_name, taken)
    assert (held.user_attrs["candidate"], held.state, sorted(held.intermediate_values)) == (0, TrialState.RUNNING, [1])
    kill_and_finish(victim, owner, workers[1])               # mid-trial

    results = load_results(tmp_path / "shared")
    assert results.winner["id"] == single.winner["id"]
    assert_single_process_result(results, single)
    check_takeover(storage, study_name, taken)
    storage.engine.dispose()


@pytest.mark.postgres
def test_a_dropped_connection_is_retried_and_loses_nothing(tiny_corpus_dir, tmp_path, pg_url, study_name):
    """The search's own database role is locked out and its connections cut until the search has met
    the outage (a storage call failed to connect and is being retried with backoff); then the role is
    let in again and the search ends normally. A fixed-length outage could fall between two storage
    calls and be bridged silently by pool_pre_ping."""
    import psycopg2
    role = f"hp_retry_{uuid.uuid4().hex[:8]}"
    admin_user = pg_url.split("//")[1].split("@")[0]
    admin = psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user=admin_user)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
    try:
        raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "run", search={
            "n_candidates": 4, "storage": f"postgresql://{role}@127.0.0.1:5432/test", "study_name": study_name})
        config = tmp_path / "search.yaml"
        config.write_text(yaml.safe_dump(raw))
        owner = hyperprune("search", str(config))
        lines = []
        locked_out = False
        for line in owner.stdout:
            lines.append(line)
            if " | epoch " in line and len([x for x in lines if " | epoch " in x]) == 3:
                with admin.cursor() as cursor:          # lock the role out and drop every connection it holds
                    cursor.execute(f"ALTER ROLE {role} NOLOGIN")
                    cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                                   (role,))
                    assert cursor.rowcount >= 1
                locked_out = True
            if locked_out and "unreachable" in line and "retrying in" in line:
                with admin.cursor() as cursor:          # the outage was met: end it
                    cursor.execute(f"ALTER ROLE {role} LOGIN")
                locked_out = False
        owner.wait(timeout=300)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"ALTER ROLE {role} LOGIN")
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            cursor.execute(f"REASSIGN OWNED BY {role} TO {admin_user}")
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")
        admin.close()
    out = "".join(lines)
    assert owner.returncode == 0, out
    retries = [line for line in lines if "unreachable" in line and "retrying in" in line]
    assert retries, out                                       # the outage was met, and retried
    results = load_results(tmp_path / "run")
    assert results.status == "complete" and results.winner is not None
    assert all(c["status"] != "failed" for c in results.candidates)
    assert all(c["status"] != "running" for c in results.candidates)


@pytest.mark.postgres
def test_a_worker_killed_in_a_seed_job_is_taken_over_and_the_result_is_one_process(tiny_corpus_dir, tmp_path,
                                                                                   pg_url, study_name):
    """search.final_seeds: 2. The first seed job (the dense model's or a finalist's, whichever is
    claimed first) is held at its first epoch in a worker, which is killed; another takes it over."""
    sections = {"search": {"sampler": "random", "n_candidates": 4, "final_seeds": 2, "heartbeat_interval": 1}}
    single = run_search(from_dict(SearchConfig, tiny_search_raw(tiny_corpus_dir, tmp_path / "single", **sections)),
                        verbose=False)
    storage = open_storage(pg_url)
    owner, workers, victim, taken = start_shared_search(
        tmp_path, tiny_search_raw(tiny_corpus_dir, tmp_path / "shared", **sections), pg_url, study_name, storage,
        held=1, kind="seed", epoch=1)
    assert taken.user_attrs["job"].startswith("seed:")
    kill_and_finish(victim, owner, workers[1])
    results = load_results(tmp_path / "shared")
    assert_single_process_result(results, single)
    rounded = lambda seeds: {m: [round(v, 9) for v in s["valid_ppl"] + s["test_ppl"]]
                             for m, s in seeds["models"].items()}
    assert rounded(results.seeds) == rounded(single.seeds) and len(single.seeds["models"]) == 3
    assert results.seeds["winner_vs_runner_up"]["ci"] == pytest.approx(single.seeds["winner_vs_runner_up"]["ci"])
    check_takeover(storage, study_name, taken)
    storage.engine.dispose()
