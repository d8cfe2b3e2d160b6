"""Full training: every candidate is trained to the budget and the lowest final validation
perplexity wins. The baseline LSH is measured against (its cost is the pool times the budget),
and the sampler learns from the final perplexities, as an ordinary hyperparameter search does.

    final:C@budget for every candidate (and dense@budget for the report's comparison).
"""

from __future__ import annotations

from typing import Any

from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.rounds import FAILED, PENDING
from hyperprune.search.schedule import Plan, note_failure, outcome
from hyperprune.search.strategies import STRATEGIES
from hyperprune.search.strategies.base import SearchStrategy


@STRATEGIES.register("full")
class FullTraining(SearchStrategy):
    name = "full"
    title = "Full-training search"

    def compared_epochs(self) -> list[int]:
        return []                     # ranked by perplexity alone: no spectrum is compared

    def plan(self, pool, records: dict[str, JobRecord], dense_ready: set[int], out: Plan) -> None:
        final_ppl = lambda c: outcome(records.get(self.final_job(c).key), "valid_ppl")
        out.proposals = list(pool.propose(final_ppl))
        unique = [p.slot for p in out.proposals if p.duplicate_of is None]
        for c in unique:
            out.jobs.append(self.final_job(c))
            note_failure(records, self.final_job(c), out)
        if len(out.proposals) < self.settings.n_candidates or any(final_ppl(c) is PENDING for c in unique):
            return
        out.finalists = [c for c in unique if final_ppl(c) is not FAILED]   # every one that did not fail
        out.winner = self.pick_winner({c: final_ppl(c) for c in out.finalists})
        out.complete = self.final_epochs in dense_ready

    def planned_epochs(self, n: int) -> int:
        return n * self.final_epochs

    def describe(self) -> str:
        return "every candidate trained fully, ranked by validation perplexity"

    def dashboard_values(self, job: Job, result: dict[str, Any]) -> dict[int, float]:
        if job.kind != "final":
            return {}
        return {int(e): p for e, p in result.get("valid_ppl_by_epoch", {}).items() if p is not None}
