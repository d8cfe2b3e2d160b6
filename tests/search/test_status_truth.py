"""`hyperprune status` and `report` after kill -9 or SIGTERM: a dead process is not "running".

A search killed with kill -9 leaves its lock file (with its pid) and its job RUNNING in the queue
until someone takes it over. These tests build that state by hand, with a pid that cannot exist, so
nothing waits on a real process dying.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import optuna
import yaml

from hyperprune.cli import main
from hyperprune.config import to_dict
from hyperprune.files import LOCK_NAME, process_alive
from hyperprune.status.search import worker_alive

HOST = socket.gethostname()
DEAD = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1       # no process can have this pid


def stopped_search(cfg, workers: list[tuple[str, float | None]], lock_pid: int | None = None) -> Path:
    """A search's run directory as kill -9 leaves it: results.json "running", the given workers'
    jobs RUNNING in the queue (worker, heartbeat time or None), and the lock file of `lock_pid`."""
    run = Path(cfg.run_dir)
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({"status": "running", "strategy": "lsh", "metric": "ls",
                                                  "config": to_dict(cfg), "candidates": [], "rounds": []}))
    jobs = optuna.create_study(study_name=cfg.study_name + ".jobs", storage=cfg.storage_url)
    for i, (worker, beat) in enumerate(workers):
        trial = jobs.ask()
        trial.set_user_attr("job", f"score:{i}@2")
        trial.set_user_attr("worker", worker)
        if beat is not None:
            trial.set_user_attr("heartbeat", beat)
    if lock_pid is not None:
        (run / LOCK_NAME).write_text(f"{lock_pid}\n")            # nobody holds its flock
    return run


def test_a_killed_search_is_stopped_not_running(tiny_cfg, capsys):
    assert not process_alive(DEAD) and process_alive(os.getpid())
    run = stopped_search(tiny_cfg(), [(f"{HOST}:{DEAD}", None)], lock_pid=DEAD)
    assert main(["status", str(run), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "stopped" and status["pid"] is None and status["gone"] == [DEAD]
    assert [job["alive"] for job in status["running"]] == [False]
    assert main(["status", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"search 'run' (lsh) in {run}: stopped (process {DEAD} is gone)"
    assert lines[2] == (f"  stopped  score:0@2 on {HOST}:{DEAD} (its process is gone; run the same command "
                        f"to resume)")
    assert not any(line.startswith("  running") for line in lines)

    # the report says so too, instead of "still running"
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.startswith(f"partial report, search stopped (process {DEAD} is gone): ")
    page = (run / "report" / "index.html").read_text()
    assert f"stopped before it finished (process {DEAD} is gone; run the same command to resume)" in page
    assert "still running" not in page


def test_a_live_worker_on_this_machine_is_running(tiny_cfg, capsys):
    run = stopped_search(tiny_cfg(), [(f"{HOST}:{os.getpid()}", None), (f"{HOST}:{DEAD}", None)])
    assert main(["status", str(run), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "running" and status["gone"] == []
    assert [job["alive"] for job in status["running"]] == [True, False]


def test_workers_elsewhere_are_judged_by_their_heartbeat(tiny_cfg, capsys):
    limit = 2 * tiny_cfg().search.heartbeat_interval
    assert worker_alive("gpu-7:12", limit - 1.0, limit, host="here") is True
    assert worker_alive("gpu-7:12", limit + 1.0, limit, host="here") is False
    assert worker_alive("gpu-7:12", None, limit, host="here") is None          # cannot tell: not "gone"
    assert worker_alive(f"here:{DEAD}", 0.0, limit, host="here") is False      # this machine: the pid decides

    now = time.time()
    run = stopped_search(tiny_cfg(), [("gpu-7:12", now - 10 * limit)])
    assert main(["status", str(run), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "stopped" and status["gone"] == [12]


def test_a_killed_train_run_is_stopped(tiny_corpus_dir, tmp_path, capsys):
    from tests.test_cli import write_config
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "train.epochs=1"]) == 0
    run = tmp_path / "run"
    (run / LOCK_NAME).write_text(f"{DEAD}\n")
    capsys.readouterr()
    assert main(["status", str(run)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"train run {run}: complete"      # its lock is stale, no matter
    settings = yaml.safe_load((run / "config.yaml").read_text())
    settings["train"]["epochs"] = 3                           # as if it was killed after epoch 1 of 3
    (run / "config.yaml").write_text(yaml.safe_dump(settings))
    assert main(["status", str(run)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"train run {run}: stopped (process {DEAD} is gone)"


def test_the_summary_says_in_play_for_candidates_and_names_jobs_separately():
    """results.json's candidate status 'running' (not yet eliminated) printed as 'running' beside
    'running no job' read as a contradiction (issue 21, section 5)."""
    from hyperprune.status.search import describe_search_status

    status = {"study": "s", "strategy": "lsh", "run_dir": "runs/s", "state": "stopped", "pid": None, "gone": [],
              "epochs_done": 6, "epochs_planned": 13, "dense_epochs": 2, "rounds_done": 1,
              "candidates": {"total": 4, "eliminated": 2, "running": 2}, "running": [], "waiting": 0,
              "storage_note": None, "best": {"winner": None, "round_leader": None, "lowest_valid_ppl": None},
              "eta_s": None, "wall_s": None}
    lines = describe_search_status(status).splitlines()
    assert lines[1] == ("  done     6 of 13 planned epochs (dense 2); 1 round(s); candidates: 2 eliminated, "
                        "2 in play of 4")
    assert lines[2] == "  jobs     none running"
