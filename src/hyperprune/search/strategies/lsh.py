"""LSH (Zheng & Shlizerman 2025, "Hyperpruning", arXiv 2506.07975): the released code's search.

A pool of `n_candidates` is drawn from the sampler, which learns from each candidate's score at e0
(the spectrum distance to the dense model at the same epoch, or the validation perplexity with
metric loss). Rounds then rank the survivors at e0, e0 + ei, ..., keep `keep` of them (the paper's
half+1) and train them on, until `finalists` are left; those train to the budget and the lowest
final validation perplexity wins (`rounds.py` holds the elimination rule).

    dense@E for every epoch compared at, then score:C@e0 for every candidate, score:C@E for the
    survivors of each round, and final:C@budget for the finalists.

    LSH(cfg, finalists=2, epochs_per_round=3)     # YAML: search.finalists, search.epochs_per_round
"""

from __future__ import annotations

from typing import Any

from hyperprune.config import check_range
from hyperprune.errors import UserError
from hyperprune.search import rounds as round_logic
from hyperprune.search.jobs import Job, JobRecord, job_scores
from hyperprune.search.rounds import FAILED, PENDING
from hyperprune.search.schedule import Plan, note_failure, outcome, settled
from hyperprune.search.strategies import STRATEGIES
from hyperprune.search.strategies.base import SearchStrategy


@STRATEGIES.register("lsh")
class LSH(SearchStrategy):
    name = "lsh"
    title = "LSH search"

    def __init__(self, cfg, finalists: int = 2, epochs_per_round: int = 3):
        """`finalists` F: rounds stop at this many, who train to the budget; `epochs_per_round` ei:
        survivors train this many more epochs per round (the defaults are `SearchSettings`'s)."""
        super().__init__(cfg)
        s = self.settings
        check_range("search.finalists", finalists, 1)
        check_range("search.epochs_per_round", epochs_per_round, 0)
        if finalists > s.n_candidates:
            # as LSHPruner refuses more finalists than trials, rather than quietly training fewer
            raise UserError(f"search.finalists = {finalists} is more than search.n_candidates = "
                            f"{s.n_candidates}; allowed: 1 to {s.n_candidates} ({s.n_candidates}: no rounds)")
        # The round schedule, as attributes so that a variant of LSH is a subclass that sets them.
        self.finalists, self.keep, self.epochs_per_round = finalists, s.keep, epochs_per_round
        self.sizes = round_logic.planned_sizes(s.n_candidates, self.keep, finalists)

    @classmethod
    def from_config(cls, cfg) -> "LSH":
        s = cfg.search
        return cls(cfg, finalists=s.finalists, epochs_per_round=s.epochs_per_round)

    def score_job(self, candidate: int, epoch: int) -> Job:
        return Job("score", epoch, candidate)

    def first_job(self, candidate: int) -> Job:
        return self.score_job(candidate, self.settings.first_epoch)

    def compared_epochs(self) -> list[int]:
        s = self.settings
        if s.metric != "ls":
            return []
        return sorted(set(round_logic.round_epochs(s.first_epoch, self.epochs_per_round, self.final_epochs,
                                                   len(self.sizes))))

    def plan(self, pool, records: dict[str, JobRecord], dense_ready: set[int], out: Plan) -> None:
        s, final = self.settings, self.final_epochs
        needs_dense = s.metric == "ls"
        # The pool: the sampler learns from each candidate's score at e0.
        first = lambda c: outcome(records.get(self.first_job(c).key), "score")
        out.proposals = list(pool.propose(first))
        unique = [p.slot for p in out.proposals if p.duplicate_of is None]
        for c in unique:
            if not needs_dense or s.first_epoch in dense_ready:
                out.jobs.append(self.first_job(c))
            note_failure(records, self.first_job(c), out)
        if len(out.proposals) < s.n_candidates or any(first(c) is PENDING for c in unique):
            return

        progress = round_logic.advance(
            {c: first(c) for c in unique if first(c) is not FAILED},
            lambda c, epoch: outcome(records.get(self.score_job(c, epoch).key), "score"),
            e0=s.first_epoch, ei=self.epochs_per_round, final=final, keep=self.keep, finalists=self.finalists)
        out.rounds = progress.rounds
        for r in progress.rounds:
            for c in r.candidates:
                if c not in r.kept:
                    out.eliminated[c] = r.round
        for c, epoch in progress.failed.items():
            note_failure(records, self.score_job(c, epoch), out)
        for c, epoch in progress.pending:
            if not needs_dense or epoch in dense_ready:
                out.jobs.append(self.score_job(c, epoch))
        if progress.finalists is None:
            return
        out.finalists = progress.finalists
        for c in progress.finalists:
            out.jobs.append(self.final_job(c))
            note_failure(records, self.final_job(c), out)
        if all(settled(records.get(self.final_job(c).key)) for c in progress.finalists):
            out.winner = self.pick_winner({c: records[self.final_job(c).key].result["valid_ppl"]
                                           for c in progress.finalists
                                           if records[self.final_job(c).key].state == "done"})
            out.complete = final in dense_ready

    # -- cost -----------------------------------------------------------------------------------

    def planned_rounds(self) -> list[dict[str, int]]:
        s, sizes = self.settings, self.sizes
        epochs = round_logic.round_epochs(s.first_epoch, self.epochs_per_round, self.final_epochs, len(sizes) - 1)
        return [{"round": r, "epoch": epochs[r], "candidates": sizes[r], "kept": sizes[r + 1]}
                for r in range(len(sizes) - 1)]

    def planned_epochs(self, n: int) -> int:
        s, final = self.settings, self.final_epochs
        total, epoch = n * s.first_epoch, s.first_epoch
        sizes = round_logic.planned_sizes(n, self.keep, self.finalists)
        if len(sizes) == 1:
            return total + n * (final - epoch)
        for m in sizes[1:]:
            if m <= self.finalists:
                return total + m * (final - epoch)
            nxt = min(epoch + self.epochs_per_round, final)
            total, epoch = total + m * (nxt - epoch), nxt
        return total

    def planned_finalists(self) -> int:
        return min(self.finalists, self.settings.n_candidates)

    def candidate_spectra(self) -> int:
        if self.settings.metric != "ls":
            return 0
        rounds = self.planned_rounds()
        # no rounds (the pool is no larger than the finalists): every candidate is scored once, at e0
        return sum(r["candidates"] for r in rounds) if rounds else self.settings.n_candidates

    # -- words ----------------------------------------------------------------------------------

    def describe(self) -> str:
        return f"LSH rounds on the {self.metric_words()}"

    def schedule_line(self) -> str:
        s = self.settings
        return (f"e0 {s.first_epoch}, +{self.epochs_per_round} per round, {self.finalists} finalist(s) to "
                f"{self.final_epochs}")

    def plan_lines(self) -> list[str]:
        lines = super().plan_lines()
        s = self.settings
        lines.insert(len(lines) - 1, f"finalists: {min(self.finalists, s.n_candidates)} trained to epoch "
                                     f"{self.final_epochs}")
        return lines

    def resume_note(self, records: dict[str, JobRecord]) -> str:
        finals = sum(1 for r in records.values() if r.state == "done" and r.job.kind == "final")
        return f", {finals} finalist(s) done" if finals else ""

    def dashboard_values(self, job: Job, result: dict[str, Any]) -> dict[int, float]:
        return job_scores(job, result)
