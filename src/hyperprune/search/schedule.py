"""What the search should do next: a pure function of the job results stored so far.

Every worker calls `plan(...)` on the same stored results and gets the same answer: which jobs
must exist now, where the rounds stand, and whether the search is over. Nothing here trains or
writes; `runner.py` enqueues the jobs and runs them.

    lsh    dense@E for every epoch compared at (in order, one at a time), then the pool:
           score:C@e0 for each candidate (its score teaches the sampler), then rounds:
           score:C@E for the survivors, then final:C@final for the finalists.
    full   final:C@final for every candidate (the sampler learns from validation perplexity).
    asha   asha:C@final for every candidate; the trial itself decides at each rung (Optuna's
           successive-halving pruner) whether to go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hyperprune.errors import UserError
from hyperprune.search import rounds as round_logic
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.proposals import Proposal, Proposer
from hyperprune.search.rounds import FAILED, PENDING, Round


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)            # must exist now (enqueued when missing)
    proposals: list[Proposal] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    finalists: list[int] | None = None
    winner: int | None = None
    complete: bool = False
    failed: dict[int, str] = field(default_factory=dict)     # candidate -> why
    eliminated: dict[int, int] = field(default_factory=dict)  # candidate -> round


def compare_epochs(strategy: str, metric: str, e0: int, ei: int, final: int, n: int, keep: float,
                   finalists: int) -> list[int]:
    """Epochs at which candidates are scored against the dense spectrum (lsh with metric ls, asha)."""
    if metric != "ls" or strategy == "full":
        return []
    if strategy == "asha":
        return asha_rungs(e0, keep, final)
    sizes = round_logic.planned_sizes(n, keep, finalists)
    return sorted(set(round_logic.round_epochs(e0, ei, final, len(sizes))))


def asha_rungs(e0: int, keep: float, final: int) -> list[int]:
    """Epochs at which an ASHA trial reports its score: e0 * eta^r below the budget, then the budget."""
    eta = reduction_factor(keep)
    epochs, epoch = [], e0
    while epoch < final:
        epochs.append(epoch)
        epoch *= eta
    return epochs + [final]


def reduction_factor(keep: float) -> int:
    return max(2, round(1 / keep))


def dense_epochs(cfg) -> list[int]:
    s = cfg.search
    epochs = compare_epochs(s.strategy, s.metric, s.first_epoch, s.epochs_per_round, cfg.final_epochs,
                            s.n_candidates, s.keep, s.finalists)
    return sorted(set(epochs) | {cfg.final_epochs})


def _outcome(record: JobRecord | None, field_name: str) -> Any:
    if record is None or record.state in ("waiting", "running", "lost"):
        return PENDING
    if record.state == "failed":
        return FAILED
    return record.result[field_name]


def plan(cfg, proposer: Proposer, records: dict[str, JobRecord]) -> Plan:
    s = cfg.search
    final = cfg.final_epochs
    ls = s.metric == "ls" and s.strategy != "full"
    out = Plan()

    # The dense reference, one epoch after the other (a single model: never two jobs at once).
    dense_ready: set[int] = set()
    for epoch in dense_epochs(cfg):
        record = records.get(Job("dense", epoch).key)
        if record is not None and record.state == "done":
            dense_ready.add(epoch)
            continue
        if record is not None and record.state == "failed":
            raise UserError(f"the dense reference failed at epoch {epoch}: {record.failure}; "
                            f"fix the training recipe (learning rate, clip) and run again")
        out.jobs.append(Job("dense", epoch))
        break

    def ready(epoch: int) -> bool:
        return not ls or epoch in dense_ready

    def score_job(candidate: int, epoch: int) -> Job:
        return Job("score", epoch, candidate)

    def final_job(candidate: int) -> Job:
        return Job("asha" if s.strategy == "asha" else "final", final, candidate)

    def note_failure(job: Job) -> None:
        record = records.get(job.key)
        if record is not None and record.state == "failed":
            out.failed.setdefault(job.candidate, record.failure or "failed")

    # The pool: the sampler learns from each candidate's first score (lsh) or its final one.
    if s.strategy == "lsh":
        teach = lambda slot: _outcome(records.get(score_job(slot, s.first_epoch).key), "score")
    elif s.strategy == "full":
        teach = lambda slot: _outcome(records.get(final_job(slot).key), "valid_ppl")
    else:
        teach = lambda slot: _outcome(records.get(final_job(slot).key), "score")
    out.proposals = proposals = list(proposer.propose(teach))
    unique = [p.slot for p in proposals if p.duplicate_of is None]

    first_jobs = {c: (score_job(c, s.first_epoch) if s.strategy == "lsh" else final_job(c)) for c in unique}
    if s.strategy == "lsh":
        pool_ready = ready(s.first_epoch)
    else:  # an ASHA trial reads the dense spectrum at every rung as it goes
        pool_ready = all(ready(epoch) for epoch in dense_epochs(cfg))
    for c, job in first_jobs.items():
        if pool_ready:
            out.jobs.append(job)
        note_failure(job)
    pool_known = len(proposals) == s.n_candidates and all(
        teach(c) is not PENDING for c in unique)
    if not pool_known:
        return out

    if s.strategy in ("full", "asha"):
        scored = {c: records[final_job(c).key].result for c in unique
                  if records[final_job(c).key].state == "done"}
        finishers = {c: r["valid_ppl"] for c, r in scored.items() if r.get("test_ppl") is not None}
        out.finalists = sorted(finishers, key=lambda c: (finishers[c], c))
        out.winner = out.finalists[0] if out.finalists else None
        for c, r in scored.items():
            if r.get("pruned_at") is not None:
                out.eliminated[c] = int(r["pruned_at"])
        out.complete = final in dense_ready
        return out

    # lsh rounds, replayed from the first scores.
    first = {c: records[first_jobs[c].key].result["score"] for c in unique
             if records[first_jobs[c].key].state == "done"}

    def score_at(candidate: int, epoch: int) -> object:
        return _outcome(records.get(score_job(candidate, epoch).key), "score")

    progress = round_logic.advance(first, score_at, e0=s.first_epoch, ei=s.epochs_per_round, final=final,
                                   keep=s.keep, finalists=s.finalists)
    out.rounds = progress.rounds
    for r in progress.rounds:
        for c in r.candidates:
            if c not in r.kept:
                out.eliminated[c] = r.round
    for c, epoch in progress.failed.items():
        note_failure(score_job(c, epoch))
    for c, epoch in progress.pending:
        if ready(epoch):
            out.jobs.append(score_job(c, epoch))
    if progress.finalists is None:
        return out
    out.finalists = progress.finalists
    finals: dict[int, float] = {}
    settled = True
    for c in progress.finalists:
        job = final_job(c)
        out.jobs.append(job)
        record = records.get(job.key)
        if record is None or record.state not in ("done", "failed"):
            settled = False
        elif record.state == "done":
            finals[c] = record.result["valid_ppl"]
        else:
            note_failure(job)
    if settled:
        ranked = sorted(finals, key=lambda c: (finals[c], c))
        out.winner = ranked[0] if ranked else None
        out.complete = final in dense_ready
    return out
