"""Where a search stands, without touching it (`hyperprune status` on a search's run directory).

For a search: results.json says what is done (candidates by status, rounds, the dense reference,
the cost so far); the job queue in the study's storage says what is running (each job, its worker,
for how long, and its last heartbeat where the storage keeps one); the best so far is the leader of
the latest round by score and the candidate with the lowest validation perplexity; the ETA is the
planned candidate and dense epochs left times the seconds per epoch spent so far (spectra included),
by `train.progress.seconds_left` as the search's console computes it, on results.json's cost.
Nothing is written: a missing SQLite file is not opened (that would create it).
"""

from __future__ import annotations

import datetime
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from hyperprune.config import from_dict
from hyperprune.errors import UserError
from hyperprune.files import process_alive
from hyperprune.run_files import read_results
from hyperprune.search.config import SearchConfig
from hyperprune.search.optuna_internals import rdb_heartbeat_ages, trial_id
from hyperprune.search.storage import open_storage, sqlite_path
from hyperprune.search.strategies import strategy_for
from hyperprune.status.training import gone_words, lock_state
from hyperprune.train.progress import clock, seconds_left


def _running_jobs(storage_url: str, study_name: str) -> tuple[list[dict[str, Any]], int, str | None]:
    """(running jobs, waiting jobs, a note when the storage cannot be read)."""
    path = sqlite_path(storage_url) if storage_url.startswith("sqlite") else None
    if path is not None and not path.is_file():
        return [], 0, f"no study database at {path} yet"
    try:
        storage = open_storage(storage_url)
        trials = optuna.load_study(study_name=study_name + ".jobs", storage=storage).get_trials(deepcopy=False)
    except (KeyError, UserError) as exc:
        return [], 0, f"no job queue readable ({exc})"
    now = datetime.datetime.now()
    running = []
    rdb_ages = rdb_heartbeat_ages(storage, [trial_id(t) for t in trials if t.state == TrialState.RUNNING])
    for t in trials:
        if t.state != TrialState.RUNNING or "job" not in t.user_attrs:
            continue
        beat = t.user_attrs.get("heartbeat")          # journal storage: the worker's clock
        running.append({
            "job": t.user_attrs["job"],
            "worker": t.user_attrs.get("worker"),
            "running_s": (now - t.datetime_start).total_seconds() if t.datetime_start else None,
            "heartbeat_s_ago": (now.timestamp() - beat) if isinstance(beat, (int, float)) else
            rdb_ages.get(trial_id(t)),
        })
    waiting = sum(1 for t in trials if t.state == TrialState.WAITING and "job" in t.user_attrs)
    return running, waiting, None


def worker_alive(worker: str | None, heartbeat_s_ago: float | None, limit_s: float,
                 host: str | None = None) -> bool | None:
    """Whether the process behind a RUNNING job is alive. `worker` is "host:pid" (jobs.py): on this
    host, whether that pid exists; elsewhere, whether its heartbeat is younger than `limit_s` (the
    age at which another worker takes the job over); None when neither can be told."""
    name, _, pid = (worker or "").rpartition(":")
    if name == (host or socket.gethostname()) and pid.isdigit():
        return process_alive(int(pid))
    if heartbeat_s_ago is not None:
        return heartbeat_s_ago <= limit_s
    return None


def _best(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"winner": None, "round_leader": None, "lowest_valid_ppl": None}
    if results.get("winner"):
        w = results["winner"]
        out["winner"] = {"candidate": w["id"], "valid_ppl": w["valid_ppl"], "test_ppl": w["test_ppl"]}
    if results.get("rounds"):
        r = results["rounds"][-1]
        leader = r["candidates"][0]
        out["round_leader"] = {"candidate": leader, "round": r["round"], "epoch": r["epoch"],
                               "score": r["scores"][str(leader)]}
    lowest = None
    for c in results.get("candidates", []):
        valid = {int(e): p for e, p in c.get("valid_ppl_by_epoch", {}).items() if p is not None}
        if valid:
            epoch = max(valid)
            if lowest is None or valid[epoch] < lowest["valid_ppl"]:
                lowest = {"candidate": c["id"], "epoch": epoch, "valid_ppl": valid[epoch]}
    out["lowest_valid_ppl"] = lowest
    return out


def search_status(run_dir: Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    results = read_results(run_dir) or {}
    raw = results.get("config")
    if raw is None:
        raw = yaml.safe_load((run_dir / "search.yaml").read_text())
    cfg = from_dict(SearchConfig, raw)
    candidates = results.get("candidates", [])
    by_status = Counter(c["status"] for c in candidates)
    dense = results.get("dense") or {}
    cost = results.get("cost") or {}
    running, waiting, note = _running_jobs(cfg.storage_url, cfg.study_name)
    for job in running:
        job["alive"] = worker_alive(job["worker"], job["heartbeat_s_ago"], 2 * cfg.search.heartbeat_interval)
    pid, gone_pid = lock_state(run_dir)
    # A RUNNING job whose process died stays RUNNING until a worker takes it over: not "running".
    gone = {int(job["worker"].rpartition(":")[2]) for job in running
            if job["alive"] is False and job["worker"].rpartition(":")[2].isdigit()}
    if gone_pid is not None and pid is None:
        gone.add(gone_pid)
    complete = results.get("status") == "complete"
    working = pid is not None or any(job["alive"] is not False for job in running)
    unique = sum(1 for c in candidates if c["status"] != "duplicate") or cfg.search.n_candidates
    strategy = strategy_for(cfg)
    planned = strategy.planned_epochs(unique) + cfg.final_epochs + strategy.planned_seed_epochs()
    done = cost.get("epochs_total", 0) + dense.get("epochs", 0) + cost.get("seed_epochs", 0)
    spent = cost.get("train_s", 0.0) + cost.get("spectrum_s", 0.0) + dense.get("train_s", 0.0) + \
        dense.get("spectrum_s", 0.0)
    eta = 0.0 if complete else seconds_left(done, planned, spent)
    return {
        "kind": "search",
        "run_dir": str(run_dir),
        "study": cfg.study_name,
        "state": "complete" if complete else ("running" if working else "stopped"),
        "pid": pid,
        "gone": [] if complete or working else sorted(gone),
        "strategy": cfg.search.strategy,
        "candidates": {"total": cfg.search.n_candidates, **dict(sorted(by_status.items()))},
        "rounds_done": len(results.get("rounds", [])),
        "dense_epochs": dense.get("epochs", 0),
        "epochs_done": done,
        "epochs_planned": planned,
        "running": running,
        "waiting": waiting,
        "storage_note": note,
        "best": _best(results),
        "wall_s": cost.get("wall_s"),
        "eta_s": eta,
    }


def describe_search_status(s: dict[str, Any]) -> str:
    counts = s["candidates"]
    # results.json calls a candidate not yet eliminated or finished "running"; beside the job lines
    # (what is executing right now) that word misleads, so the summary says "in play".
    parts = ", ".join(f"{n} {'in play' if k == 'running' else k}" for k, n in counts.items() if k != "total")
    lines = [f"search '{s['study']}' ({s['strategy']}) in {s['run_dir']}: {s['state']}"
             + (f" (pid {s['pid']})" if s["pid"] else "") + gone_words(s["gone"]),
             f"  done     {s['epochs_done']} of {s['epochs_planned']} planned epochs (dense {s['dense_epochs']}); "
             f"{s['rounds_done']} round(s); candidates: {parts or 'none yet'} of {counts['total']}"]
    if s["running"]:
        for job in s["running"]:
            beat = f", heartbeat {job['heartbeat_s_ago']:.0f} s ago" if job["heartbeat_s_ago"] is not None else ""
            if job["alive"] is False:
                # Still RUNNING in the queue: the next worker or `search` gives it back.
                lines.append(f"  stopped  {job['job']} on {job['worker']}{beat} (its process is gone; "
                             f"run the same command to resume)")
            else:
                lines.append(f"  running  {job['job']} on {job['worker']} for {clock(job['running_s'] or 0)}{beat}")
    else:
        lines.append("  jobs     none running" + (f" ({s['storage_note']})" if s["storage_note"] else ""))
    if s["waiting"]:
        lines.append(f"  waiting  {s['waiting']} job(s)")
    best = s["best"]
    if best["winner"]:
        w = best["winner"]
        lines.append(f"  winner   candidate {w['candidate']}: valid ppl {w['valid_ppl']:.2f}, test ppl {w['test_ppl']:.2f}")
    if best["round_leader"]:
        r = best["round_leader"]
        lines.append(f"  leader   candidate {r['candidate']}: score {r['score']:.4g} in round {r['round']} "
                     f"(epoch {r['epoch']})")
    if best["lowest_valid_ppl"]:
        b = best["lowest_valid_ppl"]
        lines.append(f"  best ppl candidate {b['candidate']}: valid ppl {b['valid_ppl']:.2f} at epoch {b['epoch']}")
    if s["eta_s"] is not None:
        lines.append(f"  ETA      {clock(s['eta_s'])}" + (f" (elapsed {clock(s['wall_s'])})" if s["wall_s"] else ""))
    return "\n".join(lines)
