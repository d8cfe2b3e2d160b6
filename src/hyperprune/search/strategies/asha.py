"""ASHA (Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning", MLSys) on the
spectrum distance or the validation loss.

Each candidate is one trial of the main study, asked from the sampler when a worker picks its job
(so the sampler learns from whatever has finished, asynchronously). The trial reports its score at
the rungs e0 * eta^r below the budget, eta = round(1 / keep) (the paper's half+1 is a halving,
eta = 2), and Optuna's `SuccessiveHalvingPruner` stops it at a rung where it is not in the top
1/eta of the trials that reported there so far. The trials that reach the budget are the
finalists; the lowest final validation perplexity wins. With several workers the order in which
trials report depends on timing, so the promotions, and the pool, can differ from one process's.

`search.asha_promotion: candidate-order` is our option for a reproducible ASHA: a trial competes at a
rung with the candidates of lower id only, and waits until each of them has reported there or ended
below it. One process runs candidates in id order, so its promotions are Optuna's; several workers
then make the same ones, at the price of idle waits (and a worker whose wait is on a job nobody runs
gives its own job back and takes that one). With the random sampler, seeded per candidate, the whole
search is then one process's; a learning sampler (tpe) still sees finished trials in timing order.

    asha:C@budget for every candidate: one job per trial, trained rung by rung (`asha_rungs.py`),
    its trial kept in the main study (`asha_trial.py`).

    ASHA(cfg, promotion="arrival")      # or "candidate-order"; YAML: search.asha_promotion
"""

from __future__ import annotations

import math
from typing import Any, Callable

import optuna

from hyperprune.config import check_choice
from hyperprune.errors import UserError
from hyperprune.search import rounds as round_logic
from hyperprune.search.asha_trial import AshaTrial, proposals_of
from hyperprune.search.candidate import CandidateRun
from hyperprune.search.jobs import Job, JobLease, JobRecord, final_numbers, job_scores
from hyperprune.search.proposals import Proposal
from hyperprune.search.rounds import Round
from hyperprune.search.schedule import Plan, note_failure, settled
from hyperprune.search.strategies import STRATEGIES
from hyperprune.search.strategies.asha_rungs import settled_below, train_trial
from hyperprune.search.strategies.base import SearchStrategy, StudyProposals, scores_text

# Which trials a trial competes with at a rung: those that reported there before it (Optuna's), or
# the candidates of lower id, waited for (ours: the promotions of one process, whatever the workers).
PROMOTIONS = ("arrival", "candidate-order")


def reduction_factor(keep: round_logic.Keep) -> int:
    """ASHA's eta: 1 / keep rounded; the paper's half+1 is a halving, eta = 2."""
    if keep == round_logic.HALF_PLUS_ONE:
        return 2
    return max(2, round(1 / keep))


def asha_rungs(e0: int, keep: round_logic.Keep, final: int) -> list[int]:
    """Epochs at which an ASHA trial reports its score: e0 * eta^r below the budget, then the budget."""
    eta = reduction_factor(keep)
    epochs, epoch = [], e0
    while epoch < final:
        epochs.append(epoch)
        epoch *= eta
    return epochs + [final]


def promotable(value: float, others: list[float], eta: int) -> bool:
    """Successive halving's rule, as Optuna's `SuccessiveHalvingPruner` applies it (minimising): a
    score goes on when it is within the best floor(n / eta) of the n scores at its rung, itself
    included, and the first eta - 1 to arrive only when they are the best so far. NaN never does.

    >>> promotable(3.0, [1.0, 2.0, 4.0], 2)    # n = 4: the best 2 go on
    False
    >>> promotable(1.5, [1.0, 2.0, 4.0], 2)
    True
    >>> promotable(9.0, [], 2)                 # the first at a rung goes on
    True
    """
    if math.isnan(value):
        return False
    competing = sorted([*others, value])
    index = max(len(competing) // eta - 1, 0)
    return value <= competing[index]


@STRATEGIES.register("asha")
class ASHA(SearchStrategy):
    name = "asha"
    title = "ASHA search"
    records_dashboard_trials = False      # its trials are the sampler's own, written as they go
    prints_rounds = False                 # rungs fill up asynchronously: results.json shows them

    def __init__(self, cfg, promotion: str = "arrival"):
        super().__init__(cfg)
        check_choice("search.asha_promotion", promotion, PROMOTIONS)
        self.promotion = promotion
        s = self.settings
        if s.sampler == "grid":
            # each trial is asked on its own, when a worker starts it: there is no pool to lay a grid on
            raise UserError("search.sampler = grid is not available with strategy asha; use tpe or random")
        self.eta = reduction_factor(s.keep)
        self.rungs = asha_rungs(s.first_epoch, s.keep, self.final_epochs)

    @classmethod
    def from_config(cls, cfg) -> "ASHA":
        return cls(cfg, promotion=cfg.search.asha_promotion)

    def pruner(self) -> optuna.pruners.SuccessiveHalvingPruner:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=self.settings.first_epoch,
                                                      reduction_factor=self.eta, min_early_stopping_rate=0)

    def stops(self, trial, epoch: int, value: float, idle: Callable[[list[int]], list[int]]) -> bool:
        """Whether `trial` (an `AshaTrial`) stops at rung `epoch`, where it just reported `value`.
        `idle(waiting_on)` is called while lower candidates are not settled there (candidate-order);
        it returns those that never will be (their job failed for good)."""
        if self.promotion == "arrival":
            return trial.should_stop()
        gone: set[int] = set()
        while True:
            waiting_on, values = trial.competitors_below(epoch)
            waiting_on = [c for c in waiting_on if c not in gone]
            if not waiting_on:
                return not promotable(value, values, self.eta)
            gone.update(idle(waiting_on))

    def idle(self, lease: JobLease, waiting_on: list[int]) -> list[int]:
        """A wait of `lease`'s trial on the lower candidates `waiting_on` (see `asha_rungs.settled_below`)."""
        return settled_below(self, lease, waiting_on)

    def run_job(self, bench, job: Job, proposals: list[Proposal], records: dict[str, JobRecord],
                lease: JobLease) -> tuple[dict[str, Any], float]:
        """A trial (`asha:C@budget`), its candidate asked from the main study's sampler now
        (asynchronously: it learns from whatever is finished); a top-rung trial's seed jobs are the
        default ones."""
        if job.kind != "asha":
            return super().run_job(bench, job, proposals, records, lease)
        trial = AshaTrial.open(bench.study, bench.space, self.cfg, job.candidate, self.pruner())
        proposal = trial.proposal
        if proposal.duplicate_of is not None:
            return {"duplicate_of": proposal.duplicate_of, "params": proposal.params,
                    "fingerprint": proposal.fingerprint}, 0.0
        return train_trial(self, CandidateRun(bench, job.candidate, proposal), trial, records, lease)

    def pool(self, space, study) -> StudyProposals:
        return StudyProposals(lambda: proposals_of(study))

    def final_job(self, candidate: int) -> Job:
        return Job("asha", self.final_epochs, candidate)

    def compared_epochs(self) -> list[int]:
        return list(self.rungs) if self.settings.metric == "ls" else []

    def plan(self, pool, records: dict[str, JobRecord], dense_ready: set[int], out: Plan) -> None:
        jobs = [self.final_job(c) for c in range(self.settings.n_candidates)]
        # A trial reads the dense spectrum at every rung as it goes: start once all are there.
        if all(epoch in dense_ready for epoch in self.compared_epochs()):
            out.jobs.extend(jobs)
        out.proposals = pool.propose()
        finals: dict[int, float] = {}
        reached: dict[int, dict[int, float]] = {}
        for job in jobs:
            record = records.get(job.key)
            note_failure(records, job, out)
            if record is None or record.state != "done" or record.result.get("duplicate_of") is not None:
                continue
            result = record.result
            reached[job.candidate] = job_scores(job, result)
            if result.get("pruned_at") is not None:
                out.eliminated[job.candidate] = int(result["pruned_at"])
            elif final_numbers(result) is not None:
                finals[job.candidate] = result["valid_ppl"]
        # Rungs as rounds: who reported there, and who went on.
        for r, epoch in enumerate(self.rungs[:-1]):
            scores = {c: v[epoch] for c, v in reached.items() if epoch in v}
            if scores:
                ranked = round_logic.rank(scores)
                kept = [c for c in ranked if any(e > epoch for e in reached[c])]
                out.rounds.append(Round(r, epoch, ranked, kept, scores))
        if all(settled(records.get(job.key)) for job in jobs):
            out.finalists = sorted(finals)
            out.winner = self.pick_winner(finals)
            out.complete = self.final_epochs in dense_ready

    def planned_epochs(self, n: int) -> int:
        return n * self.final_epochs          # at most: none stopped at a rung

    def planned_finalists(self) -> int:
        """Trials expected at the top rung: the pool divided by eta at each rung below it, as
        synchronous successive halving would leave (asynchronous promotions can leave more)."""
        return max(1, self.settings.n_candidates // self.eta ** (len(self.rungs) - 1))

    def candidate_spectra(self) -> int:
        return self.settings.n_candidates * len(self.rungs) if self.settings.metric == "ls" else 0

    def result_words(self, job: Job, result: dict[str, Any]) -> list[str]:
        """Every rung's score and the decision, as LSH prints each round."""
        if job.kind != "asha":
            return super().result_words(job, result)        # a top-rung trial's seed job
        scores = job_scores(job, result)
        if result.get("pruned_at") is None:
            return [scores_text(scores), "went on at every rung"]
        return [scores_text(scores), f"stopped at rung {result['pruned_at']} (epoch {max(scores)}): not in the "
                                     f"best 1/{self.eta} there"]

    def describe(self) -> str:
        return f"ASHA on the {self.metric_words()}"

    def schedule_line(self) -> str:
        rungs = ", ".join(map(str, self.rungs[:-1]))
        if not rungs:
            return f"no rung below the budget: every trial trained to epoch {self.final_epochs}"
        return (f"rungs at epoch{'s' if len(self.rungs) > 2 else ''} {rungs} (eta {self.eta}): a trial goes on "
                f"while in the best 1/{self.eta} at its rung, to epoch {self.final_epochs}")
