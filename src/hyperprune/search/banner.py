"""The start-up banner of a search: what it runs, on what, with which plan, and whether it starts
fresh or resumes (from the stored job records). A pure function of the config, the context
(`context.py`) and the records; `console.py` prints it.
"""

from __future__ import annotations

from typing import Any

from hyperprune import __version__
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.schedule import dense_epochs
from hyperprune.train.banner import format_banner


def resume_state(cfg, strategy, records: dict[str, JobRecord]) -> str:
    """"fresh start", or what is already stored, e.g. "resuming: 3/6 candidates done, dense cached"."""
    if not records:
        return "fresh start"
    done = strategy.candidates_settled(records)
    wanted = dense_epochs(cfg, strategy)
    dense_done = [e for e in wanted if records.get(Job("dense", e).key) is not None
                  and records[Job("dense", e).key].state == "done"]
    if len(dense_done) == len(wanted):
        dense = "dense cached"
    else:
        dense = f"dense at epoch {max(dense_done, default=0)} of {max(wanted)}"
    return f"resuming: {done}/{cfg.search.n_candidates} candidates done, {dense}{strategy.resume_note(records)}"


def search_banner(cfg, strategy, context: dict[str, Any], records: dict[str, JobRecord] | None, storage: str) -> str:
    s = cfg.search
    threads = context["threads"]
    lyap = context["lyapunov"]
    rows = [
        ("data", context["data"]["line"]),
        ("model", context["model"]["line"]),
        ("sparsity", context["sparsity"]["line"]),
        ("search", f"{strategy.describe()}: {s.n_candidates} candidates from the {s.sampler} sampler, varying "
                   f"{', '.join(context['search']['varied'])}"),
        ("epochs", strategy.schedule_line()),
        *[("", line) for line in strategy.plan_lines()],
        ("spectrum", f"{lyap['convention']} convention ({lyap['unit']}), k {lyap['k'] or 'all'}, "
                     f"{lyap['sequences']} x {lyap['length']} tokens"
                     f"{'' if lyap['later_sequences'] is None else ' at e0, ' + str(lyap['later_sequences']) + ' x ' + str(lyap['length']) + ' later'}"
                     f", distance {lyap['distance']}"),
        ("device", f"{context['device']}, {threads} thread{'s' if threads != 1 else ''}"),
        ("seed", str(cfg.seed)),
        ("run dir", str(cfg.run_dir)),
        ("storage", storage),
        ("start", resume_state(cfg, strategy, records) if records is not None else "not checked (dry run)"),
    ]
    return format_banner(f"hyperprune {__version__} | search '{cfg.study_name}'", rows)
