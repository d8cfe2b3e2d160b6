"""What the search should do next: a pure function of the job results stored so far.

Every worker calls `plan(...)` on the same stored results and gets the same answer: which jobs
must exist now, where the rounds stand, and whether the search is over. Nothing here trains or
writes; `runner.py` enqueues the jobs and runs them.

The dense reference is planned here, the same for every strategy: dense@E for every epoch E a
strategy compares spectra at, and the budget, one at a time (it is a single model). The candidates'
jobs are the strategy's (`strategies/`): lsh's rounds, full's final trainings, asha's trials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hyperprune.errors import UserError
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.proposals import Proposal
from hyperprune.search.rounds import FAILED, PENDING, Round


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)            # must exist now (enqueued when missing)
    proposals: list[Proposal] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    finalists: list[int] | None = None
    winner: int | None = None
    winner_job: Job | None = None                             # its final job (checkpoint, numbers)
    complete: bool = False
    failed: dict[int, str] = field(default_factory=dict)     # candidate -> why
    eliminated: dict[int, int] = field(default_factory=dict)  # candidate -> round

    def proposal(self, candidate: int) -> Proposal:
        return next(p for p in self.proposals if p.slot == candidate)


def outcome(record: JobRecord | None, field_name: str) -> Any:
    """A stored job's `field_name` result, PENDING while it is not settled, or FAILED."""
    if record is None or record.state in ("waiting", "running", "lost"):
        return PENDING
    if record.state == "failed":
        return FAILED
    return record.result[field_name]


def settled(record: JobRecord | None) -> bool:
    return record is not None and record.state in ("done", "failed")


def note_failure(records: dict[str, JobRecord], job: Job, out: Plan) -> None:
    record = records.get(job.key)
    if record is not None and record.state == "failed":
        out.failed.setdefault(job.candidate, record.failure or "failed")


def dense_epochs(cfg, strategy) -> list[int]:
    """Epochs the dense reference is trained to and stored at: every compared epoch, and the budget."""
    return sorted(set(strategy.compared_epochs()) | {cfg.final_epochs})


def plan(cfg, strategy, pool, records: dict[str, JobRecord]) -> Plan:
    """The next steps of search `cfg` given the stored job `records`: the dense reference's here, the
    candidates' from `strategy` (a `SearchStrategy`), which draws them from `pool` (see its `pool`)."""
    out = Plan()
    dense_ready = _plan_dense(cfg, strategy, records, out)
    strategy.plan(pool, records, dense_ready, out)
    if out.winner is not None:
        out.winner_job = strategy.winner_job(out.winner)
    return out


def _plan_dense(cfg, strategy, records: dict[str, JobRecord], out: Plan) -> set[int]:
    """The dense reference, one epoch after the other (a single model: never two jobs at once)."""
    ready: set[int] = set()
    for epoch in dense_epochs(cfg, strategy):
        record = records.get(Job("dense", epoch).key)
        if record is not None and record.state == "done":
            ready.add(epoch)
            continue
        if record is not None and record.state == "failed":
            raise UserError(f"the dense reference failed at epoch {epoch}: {record.failure}; "
                            f"fix the training recipe (learning rate, clip) and run again")
        out.jobs.append(Job("dense", epoch))
        break
    return ready
