"""What the search should do next: a pure function of the job results stored so far.

Every worker calls `plan(...)` on the same stored results and gets the same answer: which jobs
must exist now, where the rounds stand, and whether the search is over. Nothing here trains or
writes; `runner.py` enqueues the jobs and runs them.

The dense reference is planned here, the same for every strategy: dense@E for every epoch E a
strategy compares spectra at, and the budget, one at a time (it is a single model). The candidates'
jobs are the strategy's (`strategies/`): lsh's rounds, full's final trainings, asha's trials.

With `search.final_seeds: N` > 1, every model whose final training finished (lsh's finalists, every
candidate under full, asha's top-rung trials), and the dense model, is trained again from scratch
under seeds +1 ... +N-1, one `seed` job each; the winner is then the lowest mean final validation
perplexity (`seed_noise.py`), decided once every seed of every finalist is settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hyperprune.errors import UserError
from hyperprune.search import seed_noise
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
    if cfg.search.final_seeds > 1:
        _plan_seeds(cfg, strategy, records, dense_ready, out)
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


def seed_jobs(cfg, candidate: int | None) -> list[Job]:
    """The extra seeds' jobs of a candidate (None: of the dense model), seed + 1 ... seed + N - 1."""
    return [Job("seed", cfg.final_epochs, candidate, k) for k in range(1, cfg.search.final_seeds)]


def finished_final(strategy, records: dict[str, JobRecord], candidate: int) -> dict[str, Any] | None:
    """The result of `candidate`'s final training under the search's own seed, when it reached the
    budget (an asha trial stopped at a lower rung did not)."""
    record = records.get(strategy.winner_job(candidate).key)
    if record is None or record.state != "done" or record.result.get("test_ppl") is None:
        return None
    return record.result


def seed_results(cfg, strategy, records: dict[str, JobRecord], candidate: int | None) -> list[dict[str, Any]] | None:
    """The final results of a model under each of the N seeds, the search's own first; None until
    all are done. `candidate` None: the dense model."""
    if candidate is None:
        record = records.get(Job("dense", cfg.final_epochs).key)
        results = [record.result if record is not None and record.state == "done" else None]
    else:
        results = [finished_final(strategy, records, candidate)]
    for job in seed_jobs(cfg, candidate):
        record = records.get(job.key)
        results.append(record.result if record is not None and record.state == "done" else None)
    return None if any(r is None for r in results) else results


def _plan_seeds(cfg, strategy, records: dict[str, JobRecord], dense_ready: set[int], out: Plan) -> None:
    """Seed jobs for the dense model (once its own final is stored) and for every candidate whose
    final training finished; then the winner by mean over seeds, once all of them are settled."""
    final = cfg.final_epochs
    wanted: list[Job] = []
    if final in dense_ready:
        for job in seed_jobs(cfg, None):
            record = records.get(job.key)
            if record is not None and record.state == "failed":
                raise UserError(f"the dense reference failed under seed +{job.replica}: {record.failure}; "
                                f"fix the training recipe (learning rate, clip) or lower search.final_seeds")
            wanted.append(job)
    finished = [p.slot for p in out.proposals
                if p.duplicate_of is None and finished_final(strategy, records, p.slot) is not None]
    for c in finished:
        for job in seed_jobs(cfg, c):
            wanted.append(job)
            record = records.get(job.key)
            if record is not None and record.state == "failed":
                out.failed.setdefault(c, f"under seed +{job.replica}: {record.failure or 'failed'}")
    out.jobs.extend(wanted)
    if out.winner is None:
        return                                   # the strategy has not decided yet (or nothing finished)
    if final not in dense_ready or not all(settled(records.get(job.key)) for job in wanted):
        out.winner, out.complete = None, False   # the seeds decide, not the first seed alone
        return
    valid = {}
    for c in out.finalists or []:
        results = seed_results(cfg, strategy, records, c) if c not in out.failed else None
        if results is not None:
            valid[c] = [r["valid_ppl"] for r in results]
    out.winner = seed_noise.pick_by_mean(valid)
