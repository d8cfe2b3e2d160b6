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
    winner_job: Job | None = None                             # its final job (checkpoint, numbers)
    complete: bool = False
    failed: dict[int, str] = field(default_factory=dict)     # candidate -> why
    eliminated: dict[int, int] = field(default_factory=dict)  # candidate -> round

    def proposal(self, candidate: int) -> Proposal:
        return next(p for p in self.proposals if p.slot == candidate)


def compare_epochs(strategy: str, metric: str, e0: int, ei: int, final: int, n: int, keep: round_logic.Keep,
                   finalists: int) -> list[int]:
    """Epochs at which candidates are scored against the dense spectrum (lsh with metric ls, asha)."""
    if metric != "ls" or strategy == "full":
        return []
    if strategy == "asha":
        return asha_rungs(e0, keep, final)
    sizes = round_logic.planned_sizes(n, keep, finalists)
    return sorted(set(round_logic.round_epochs(e0, ei, final, len(sizes))))


def asha_rungs(e0: int, keep: round_logic.Keep, final: int) -> list[int]:
    """Epochs at which an ASHA trial reports its score: e0 * eta^r below the budget, then the budget."""
    eta = reduction_factor(keep)
    epochs, epoch = [], e0
    while epoch < final:
        epochs.append(epoch)
        epoch *= eta
    return epochs + [final]


def reduction_factor(keep) -> int:
    """ASHA's eta: 1 / keep rounded; the paper's half+1 is a halving, eta = 2."""
    if keep == round_logic.HALF_PLUS_ONE:
        return 2
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


def _settled(record: JobRecord | None) -> bool:
    return record is not None and record.state in ("done", "failed")


def plan(cfg, proposer: Proposer | None, records: dict[str, JobRecord],
         asha_proposals: dict[int, Proposal] | None = None) -> Plan:
    """The next steps of search `cfg` given the stored job `records`. lsh and full grow the pool with
    `proposer`; asha reads the candidates its trials asked for (`asha_proposals`)."""
    s = cfg.search
    out = Plan()
    dense_ready = _plan_dense(cfg, records, out)
    if s.strategy == "asha":
        _plan_asha(cfg, records, asha_proposals or {}, dense_ready, out)
    else:
        _plan_pool_and_rounds(cfg, proposer, records, dense_ready, out)
    if out.winner is not None:
        out.winner_job = Job("asha" if s.strategy == "asha" else "final", cfg.final_epochs, out.winner)
    return out


def _plan_dense(cfg, records: dict[str, JobRecord], out: Plan) -> set[int]:
    """The dense reference, one epoch after the other (a single model: never two jobs at once)."""
    ready: set[int] = set()
    for epoch in dense_epochs(cfg):
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


def _note_failure(records: dict[str, JobRecord], job: Job, out: Plan) -> None:
    record = records.get(job.key)
    if record is not None and record.state == "failed":
        out.failed.setdefault(job.candidate, record.failure or "failed")


def _choose_winner(finals: dict[int, float], out: Plan) -> None:
    ranked = sorted(finals, key=lambda c: (finals[c], c))
    out.winner = ranked[0] if ranked else None


def _plan_pool_and_rounds(cfg, proposer: Proposer, records: dict[str, JobRecord], dense_ready: set[int],
                          out: Plan) -> None:
    s, final = cfg.search, cfg.final_epochs
    lsh = s.strategy == "lsh"
    needs_dense = lsh and s.metric == "ls"

    def score_job(c: int, epoch: int) -> Job:
        return Job("score", epoch, c)

    def final_job(c: int) -> Job:
        return Job("final", final, c)

    # The pool: the sampler learns from each candidate's first score (lsh) or its final perplexity.
    first_job = (lambda c: score_job(c, s.first_epoch)) if lsh else final_job
    field_name = "score" if lsh else "valid_ppl"
    teach = lambda c: _outcome(records.get(first_job(c).key), field_name)
    out.proposals = list(proposer.propose(teach))
    unique = [p.slot for p in out.proposals if p.duplicate_of is None]
    for c in unique:
        if not needs_dense or s.first_epoch in dense_ready:
            out.jobs.append(first_job(c))
        _note_failure(records, first_job(c), out)
    if len(out.proposals) < s.n_candidates or any(teach(c) is PENDING for c in unique):
        return

    if not lsh:   # full: every candidate that did not fail is a finalist
        out.finalists = [c for c in unique if teach(c) is not FAILED]
        _choose_winner({c: teach(c) for c in out.finalists}, out)
        out.complete = final in dense_ready
        return

    first = {c: teach(c) for c in unique if teach(c) is not FAILED}
    progress = round_logic.advance(
        first, lambda c, epoch: _outcome(records.get(score_job(c, epoch).key), "score"),
        e0=s.first_epoch, ei=s.epochs_per_round, final=final, keep=s.keep, finalists=s.finalists)
    out.rounds = progress.rounds
    for r in progress.rounds:
        for c in r.candidates:
            if c not in r.kept:
                out.eliminated[c] = r.round
    for c, epoch in progress.failed.items():
        _note_failure(records, score_job(c, epoch), out)
    for c, epoch in progress.pending:
        if not needs_dense or epoch in dense_ready:
            out.jobs.append(score_job(c, epoch))
    if progress.finalists is None:
        return
    out.finalists = progress.finalists
    for c in progress.finalists:
        out.jobs.append(final_job(c))
        _note_failure(records, final_job(c), out)
    if all(_settled(records.get(final_job(c).key)) for c in progress.finalists):
        _choose_winner({c: records[final_job(c).key].result["valid_ppl"] for c in progress.finalists
                        if records[final_job(c).key].state == "done"}, out)
        out.complete = final in dense_ready


def _plan_asha(cfg, records: dict[str, JobRecord], proposals: dict[int, Proposal], dense_ready: set[int],
               out: Plan) -> None:
    s, final = cfg.search, cfg.final_epochs
    rungs = asha_rungs(s.first_epoch, s.keep, final)
    jobs = [Job("asha", final, c) for c in range(s.n_candidates)]
    # A trial reads the dense spectrum at every rung as it goes: start once all are there.
    if s.metric != "ls" or all(epoch in dense_ready for epoch in rungs):
        out.jobs.extend(jobs)
    out.proposals = [proposals[c] for c in sorted(proposals)]
    finals: dict[int, float] = {}
    reached: dict[int, dict[int, float]] = {}
    for job in jobs:
        record = records.get(job.key)
        _note_failure(records, job, out)
        if record is None or record.state != "done" or record.result.get("duplicate_of") is not None:
            continue
        result = record.result
        reached[job.candidate] = {int(e): v for e, v in result["scores"].items()}
        if result.get("pruned_at") is not None:
            out.eliminated[job.candidate] = int(result["pruned_at"])
        elif result.get("test_ppl") is not None:
            finals[job.candidate] = result["valid_ppl"]
    # Rungs as rounds: who reported there, and who went on.
    for r, epoch in enumerate(rungs[:-1]):
        scores = {c: v[epoch] for c, v in reached.items() if epoch in v}
        if scores:
            ranked = round_logic.rank(scores)
            kept = [c for c in ranked if any(e > epoch for e in reached[c])]
            out.rounds.append(Round(r, epoch, ranked, kept, scores))
    if all(_settled(records.get(job.key)) for job in jobs):
        out.finalists = sorted(finals)
        _choose_winner(finals, out)
        out.complete = final in dense_ready
