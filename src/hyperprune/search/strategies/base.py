"""What a search strategy is: how it grows the pool, which jobs it asks for, when it is done, and
what it costs. `schedule.plan` asks the strategy for the candidates' jobs on the stored results;
the banner, the dry run and the ETA ask it for its plan and cost.

The shape is Optuna's pruners and samplers: one small abstract class, one subclass per strategy in
its own module, arguments checked when it is built (`SearchStrategy(cfg)` raises a one-line
`UserError`), and a docstring that names the method it implements.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar

from hyperprune.search.candidate import CandidateRun, repeated_training
from hyperprune.search.jobs import Job, JobLease, JobRecord, job_scores
from hyperprune.search.proposals import Proposal, Proposer
from hyperprune.search.schedule import Plan


class SearchStrategy(abc.ABC):
    """One search method over the pool of `cfg.search` (a `SearchConfig`)."""

    name: ClassVar[str]                   # as `search.strategy` spells it
    title: ClassVar[str]                  # how the report heads such a search
    # The main study's trials (what optuna-dashboard shows) are written by the search loop from job
    # results (`dashboard.py`); a strategy whose trials are its sampler's own (asha) says False.
    records_dashboard_trials: ClassVar[bool] = True
    prints_rounds: ClassVar[bool] = True  # whether the console prints each round as it closes

    def __init__(self, cfg):
        """`cfg` the search's config (a `SearchConfig`); a strategy's own settings are further
        arguments, checked here as Optuna's samplers check theirs (one-line `UserError`)."""
        self.cfg = cfg
        self.settings = cfg.search
        self.final_epochs = cfg.final_epochs
        # search.final_seeds; settings made by hand without it (a plain namespace) mean one seed
        self.final_seeds = getattr(self.settings, "final_seeds", 1)

    @classmethod
    def from_config(cls, cfg) -> "SearchStrategy":
        """The strategy a YAML config describes: its own settings read from `cfg.search` (`strategy_for`)."""
        return cls(cfg)

    # -- planning -------------------------------------------------------------------------------

    @abc.abstractmethod
    def compared_epochs(self) -> list[int]:
        """Epochs at which candidates' spectra are compared with the dense model's (none for loss)."""

    @abc.abstractmethod
    def plan(self, pool, records: dict[str, JobRecord], dense_ready: set[int], out: Plan) -> None:
        """Fill `out` with the candidates' part of the plan: proposals, jobs to enqueue, rounds,
        eliminated and failed candidates, finalists, the winner and whether the search is complete.
        `dense_ready` holds the epochs whose dense results are stored."""

    def pool(self, space, study) -> Any:
        """Where candidates come from: an object whose `propose(outcome)` returns the proposals so far
        (`outcome(candidate)` is the score the sampler learns from). The default is the replayed pool
        of `proposals.py`, the same in every process."""
        s = self.settings
        return Proposer(space, s.sampler, self.cfg.seed, s.n_candidates, s.batch)

    def final_job(self, candidate: int) -> Job:
        """The job that trains `candidate` to the budget (its checkpoint and numbers are the winner's)."""
        return Job("final", self.final_epochs, candidate)

    def winner_job(self, candidate: int) -> Job:
        return self.final_job(candidate)

    def first_job(self, candidate: int) -> Job:
        """A candidate's first job: the one counted as "candidates done" when a search resumes."""
        return self.final_job(candidate)

    # -- running ---------------------------------------------------------------------------------

    def run_job(self, bench, job: Job, proposals: list[Proposal], records: dict[str, JobRecord],
                lease: JobLease) -> tuple[dict[str, Any], float]:
        """(result, value) of one of this strategy's candidate jobs, run on `bench` (a `Workbench`)
        for the worker holding `lease`. The default runs the jobs every strategy may plan: `score`
        (trained to its epoch and scored there), `final` and `seed` (to the budget, then tested). A
        strategy with a job of its own (asha's trials) runs it here and leaves these to this one."""
        if job.kind not in ("score", "final", "seed"):
            raise ValueError(f"strategy {self.name} runs no job of kind {job.kind!r} ({job.key})")
        proposal = next(p for p in proposals if p.slot == job.candidate)
        run = CandidateRun(bench, job.candidate, proposal, job.replica)
        repeated = repeated_training(run.trainer, job, records)
        result, value = run.run_to(job, records, lease.check)
        return {**result, **repeated}, value

    @staticmethod
    def pick_winner(final_valid_ppl: dict[int, float]) -> int | None:
        """The finalist with the lowest final validation perplexity; ties go to the lower id."""
        ranked = sorted(final_valid_ppl, key=lambda c: (final_valid_ppl[c], c))
        return ranked[0] if ranked else None

    # -- cost -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def planned_epochs(self, n: int) -> int:
        """Candidate epochs a search of `n` unique candidates trains when none fails (for the ETA)."""

    def planned_rounds(self) -> list[dict[str, int]]:
        """[{"round", "epoch", "candidates", "kept"}] planned when no candidate fails or repeats."""
        return []

    def candidate_spectra(self) -> int:
        """Candidates' spectra planned when none fails."""
        return 0

    def planned_spectra(self) -> int:
        """Spectra planned in all: the candidates' and the dense model's."""
        return len(self.compared_epochs()) + self.candidate_spectra()

    def planned_cost(self) -> dict[str, int]:
        """Candidate epochs planned, against training every candidate fully; and the dense model's
        epochs, which both sides pay: it is trained to the budget for the winner-vs-dense comparison
        (and, with metric ls, for the spectra the candidates are compared with)."""
        n = self.settings.n_candidates
        cost = {"candidate_epochs": self.planned_epochs(n), "full_training_epochs": n * self.final_epochs,
                "dense_epochs": self.final_epochs}
        if self.final_seeds > 1:                       # absent with one seed: the plan as it always was
            cost["seed_epochs"] = self.planned_seed_epochs()
        return cost

    def planned_finalists(self) -> int:
        """Models whose final training decides the winner, when none fails (full: every candidate)."""
        return self.settings.n_candidates

    def planned_seed_epochs(self) -> int:
        """Epochs of the extra seeds (search.final_seeds): each finalist and the dense model trained
        again from scratch to the budget under seeds +1 ... +N-1."""
        return (self.final_seeds - 1) * (self.planned_finalists() + 1) * self.final_epochs

    # -- words ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def describe(self) -> str:
        """The banner's one-line account of the method."""

    def schedule_line(self) -> str:
        """The banner's "epochs" row: when candidates are scored and how far they train."""
        return f"every candidate trained to epoch {self.final_epochs}"

    def plan_lines(self) -> list[str]:
        """The banner's lines about the plan: rounds, the dense model, then the cost."""
        rounds = self.planned_rounds()
        lines = []
        if rounds:
            lines.append("rounds: " + "; ".join(f"{r['round']} at epoch {r['epoch']}: {r['candidates']} -> "
                                                f"{r['kept']}" for r in rounds))
        lines.append(self.dense_line())
        cost = self.planned_cost()
        dense, candidates, full = cost["dense_epochs"], cost["candidate_epochs"], cost["full_training_epochs"]
        lines.append(f"cost: {candidates} candidate epochs + {dense} dense = {candidates + dense}, against "
                     f"{full} + {dense} = {full + dense} to train all {self.settings.n_candidates} fully "
                     f"({(candidates + dense) / (full + dense):.0%}; candidates alone {candidates / full:.0%})")
        if "seed_epochs" in cost:
            n = self.final_seeds
            lines.append(f"seeds: {n} (search.final_seeds): {self.planned_finalists()} finalist(s) and the dense "
                         f"model trained again under {n - 1} more seed(s) to epoch {self.final_epochs}: "
                         f"+{cost['seed_epochs']} epochs, {candidates + dense + cost['seed_epochs']} in all; the "
                         f"winner is the lowest mean validation ppl over the seeds")
        return lines

    def dense_line(self) -> str:
        """Why the dense model is trained, and how far."""
        compared = self.compared_epochs()
        why = ("the winner-vs-dense comparison only (no spectrum is compared)" if not compared else
               f"its spectra at epoch{'s' if len(compared) > 1 else ''} {', '.join(map(str, compared))} and "
               f"the winner-vs-dense comparison")
        return f"dense: trained to epoch {self.final_epochs} for {why}"

    def result_words(self, job: Job, result: dict[str, Any]) -> list[str]:
        """What the console says of a finished candidate job's scores (`jobs.job_scores`), between
        its epoch and its perplexities: a score job's one score; nothing for a final training."""
        scores = job_scores(job, result)
        if len(scores) == 1:
            return [f"score {next(iter(scores.values())):9.4g}"]
        return [scores_text(scores)] if scores else []

    def candidates_settled(self, records: dict[str, JobRecord]) -> int:
        """Candidates whose first job is settled (done or failed): a resumed search's progress."""
        return sum(1 for r in records.values() if r.state in ("done", "failed") and r.job.candidate is not None
                   and r.job == self.first_job(r.job.candidate))

    def resume_note(self, records: dict[str, JobRecord]) -> str:
        """What else a resumed search has stored, after the candidates and the dense model ("" or ", ...")."""
        return ""

    def metric_words(self) -> str:
        return "Lyapunov-spectrum distance" if self.settings.metric == "ls" else "validation loss"

    # -- the main study as optuna-dashboard shows it (dashboard.py) -----------------------------

    def dashboard_values(self, job: Job, result: dict[str, Any]) -> dict[int, float]:
        """Epoch -> value: what a finished job adds to its candidate's trial as intermediate values."""
        return {}

    def dashboard_value(self, intermediate_values: dict[int, float],
                        final_result: dict[str, Any] | None) -> float | None:
        """A finalist's trial value: its final validation perplexity, the number `pick_winner` ranks,
        so that the study's `best_trial` (optuna-dashboard's "best") is the winner. Eliminated
        candidates are PRUNED with no value; their scores stay as intermediate values."""
        return final_result["valid_ppl"] if final_result is not None else None


def scores_text(scores: dict[int, float]) -> str:
    """"scores e1 4.25, e2 5.5": several scores of one job, by epoch."""
    return "scores " + ", ".join(f"e{e} {v:.4g}" for e, v in sorted(scores.items()))


class StudyProposals:
    """A pool whose proposals are stored in the main study by the trials that asked for them (asha):
    read back, in candidate order, whatever the outcomes."""

    def __init__(self, read: Callable[[], dict[int, Proposal]]):
        self._read = read

    def propose(self, outcome: Callable[[int], object] | None = None) -> list[Proposal]:
        proposals = self._read()
        return [proposals[c] for c in sorted(proposals)]
