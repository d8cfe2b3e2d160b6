"""A strategy that is not LSH, written in this file alone and registered by name, runs a real search
end to end (issue 20, section 3: each strategy owns its jobs). Nothing outside this file changes:
the strategy plans its own job kind, runs it through `run_job`, and the generic search records,
publishes and exports what it decided.

The strategy is the median stopping rule (Golovin et al. 2017, "Google Vizier: A Service for
Black-Box Optimization", KDD, section 3.2.2; Optuna's `MedianPruner`): each candidate trains epoch
by epoch in one job, and stops at an epoch below the budget where its score (the validation
perplexity) is worse than the median of the earlier candidates' scores at that epoch. Candidates
run one after another, so each one is compared with every earlier one, in any number of workers.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from hyperprune.search import run_search
from hyperprune.search.candidate import CandidateRun
from hyperprune.search.jobs import Job, JobLease, JobRecord, final_numbers
from hyperprune.search.schedule import Plan, note_failure, outcome, settled
from hyperprune.search.strategies import STRATEGIES
from hyperprune.search.strategies.base import SearchStrategy


class MedianStopping(SearchStrategy):
    """Each candidate in one `median:C@budget` job, stopped at the first epoch where its validation
    perplexity exceeds the median of the earlier candidates' at that epoch; the lowest final
    validation perplexity of those that reached the budget wins."""

    name = "median-stopping"
    title = "Median-stopping search"

    def __init__(self, cfg, min_earlier: int = 1):
        super().__init__(cfg)
        if min_earlier < 1:
            raise ValueError(f"min_earlier = {min_earlier} leaves no candidate to compare with; allowed: 1 or more")
        self.min_earlier = min_earlier          # earlier candidates needed at an epoch before one stops

    def final_job(self, candidate: int) -> Job:
        return Job("median", self.final_epochs, candidate)

    def compared_epochs(self) -> list[int]:
        return []                                # ranked on validation perplexity: no spectrum

    def plan(self, pool, records: dict[str, JobRecord], dense_ready: set[int], out: Plan) -> None:
        record_of = lambda c: records.get(self.final_job(c).key)
        # the sampler learns from each candidate's last score, where it stopped or at the budget
        out.proposals = list(pool.propose(lambda c: outcome(record_of(c), "valid_ppl")))
        finals: dict[int, float] = {}
        for c in (p.slot for p in out.proposals if p.duplicate_of is None):
            note_failure(records, self.final_job(c), out)
            record = record_of(c)
            if not settled(record):
                out.jobs.append(self.final_job(c))   # one at a time: it sees every earlier candidate
                return
            if record.state != "done":
                continue
            if final_numbers(record.result) is not None:
                finals[c] = record.result["valid_ppl"]
            else:
                out.eliminated[c] = record.result["epoch"]          # "round": the epoch it stopped at
        if len(out.proposals) < self.settings.n_candidates:
            return
        out.finalists = sorted(finals)
        out.winner = self.pick_winner(finals)
        out.complete = self.final_epochs in dense_ready

    def run_job(self, bench, job: Job, proposals, records: dict[str, JobRecord],
                lease: JobLease) -> tuple[dict[str, Any], float]:
        if job.kind != "median":
            return super().run_job(bench, job, proposals, records, lease)
        run = CandidateRun(bench, job.candidate, next(p for p in proposals if p.slot == job.candidate))
        earlier = [r.result["scores"] for r in records.values()
                   if r.job.kind == "median" and r.job.candidate < job.candidate and r.state == "done"
                   and "scores" in r.result]
        scores: dict[str, float] = {}
        for epoch in range(run.trainer.epoch + 1, self.final_epochs + 1):
            reached = run.reach(epoch, False, lease.check)
            reached.release()
            valid_ppl = run.score(reached, epoch, records, False).valid_ppl
            scores[str(epoch)] = valid_ppl
            others = [s[str(epoch)] for s in earlier if str(epoch) in s]
            if epoch < self.final_epochs and len(others) >= self.min_earlier and valid_ppl > statistics.median(others):
                return {**run.partial(), "scores": scores, "spectra": {}, "epoch": epoch, "valid_ppl": valid_ppl,
                        "test_ppl": None}, valid_ppl
        result = {**run.partial(), "scores": scores, "spectra": {}, "epoch": self.final_epochs,
                  **run.final_numbers(lease.check)}
        return result, result["valid_ppl"]

    def planned_epochs(self, n: int) -> int:
        return n * self.final_epochs            # at most: none stopped

    def describe(self) -> str:
        return "the median stopping rule on the validation perplexity"


def expected_stops(scores: list[dict[int, float]], final_epochs: int) -> list[int]:
    """The rule applied by hand to the recorded scores: the epoch each candidate ends at."""
    ends = []
    for c, own in enumerate(scores):
        end = final_epochs
        for epoch in sorted(own):
            others = [s[epoch] for s in scores[:c] if epoch in s]
            if epoch < final_epochs and others and own[epoch] > statistics.median(others):
                end = epoch
                break
        ends.append(end)
    return ends


def test_a_strategy_that_is_not_lsh_runs_a_search_end_to_end(tiny_cfg):
    assert not issubclass(MedianStopping, STRATEGIES.get("lsh").fn)      # not a variant of LSH
    STRATEGIES.register("median-stopping")(MedianStopping)
    try:
        # learning rates far apart: the slow ones fall behind the median at once
        cfg = tiny_cfg(train={"epochs": 3}, search={
            "strategy": "median-stopping", "metric": "loss", "n_candidates": 4, "batch": 4, "sampler": "grid",
            "space": {"train.lr": [0.02, 0.05, 2.0, 3.0]}})
        results = run_search(cfg, verbose=False)
    finally:
        STRATEGIES._items.pop("median-stopping")

    assert results.strategy == "median-stopping" and results.status == "complete"
    candidates = results.candidates
    assert [c["id"] for c in candidates] == [0, 1, 2, 3]
    scores = [{int(e): v for e, v in c["scores"].items()} for c in candidates]
    ends = [c["epochs_trained"] for c in candidates]
    # every candidate scored at each epoch it trained, and ended where the rule says
    assert [sorted(s) for s in scores] == [list(range(1, end + 1)) for end in ends]
    assert ends == expected_stops(scores, 3)
    assert ends[0] == 3                                # the first has nobody to be compared with
    lr = [c["params"]["train.lr"] for c in candidates]
    # the grid's order (sampler seed 1): the fast learners 3.0 and 2.0, then the slow 0.02 and 0.05
    assert lr == [3.0, 2.0, 0.02, 0.05]
    assert ends == [3, 3, 1, 1]                        # the slow two stopped after their first epoch
    assert scores[2][1] > statistics.median([scores[0][1], scores[1][1]])
    assert scores[3][1] > statistics.median([scores[0][1], scores[1][1], scores[2][1]])
    assert [c["eliminated_in_round"] for c in candidates] == [None, None, 1, 1]
    assert [c["status"] for c in candidates][2:] == ["eliminated", "eliminated"]
    # the winner: the lowest final validation perplexity among those trained to the budget
    finals = {c["id"]: c["final_valid_ppl"] for c in candidates if c["final_valid_ppl"] is not None}
    assert sorted(finals) == [0, 1]
    assert results.winner["id"] == min(finals, key=finals.get)
    assert results.winner["valid_ppl"] == finals[results.winner["id"]]
    loser = 1 - results.winner["id"]
    assert candidates[results.winner["id"]]["status"] == "winner" and candidates[loser]["status"] == "finalist"
    # its cost: only the epochs trained (3 + 3 + 1 + 1), against 4 x 3 to train all fully
    assert results.cost["epochs_total"] == 8 and results.cost["full_training_epochs"] == 12


def test_its_own_argument_is_checked_when_built(tiny_cfg):
    with pytest.raises(ValueError, match="min_earlier = 0 leaves no candidate to compare with; allowed: 1 or more"):
        MedianStopping(tiny_cfg(), min_earlier=0)
