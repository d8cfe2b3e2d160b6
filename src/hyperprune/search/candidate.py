"""Training one candidate, measuring it and scoring it: the jobs `score`, `final` and `seed`, and the
pieces a strategy's own jobs are made of (asha's trials: `strategies/asha_rungs.py`).

A candidate trains in `CHECKPOINT_DIR/<id>/`, an ordinary trainer run directory: a survivor of a
round continues from its checkpoint, and a job taken over after a crash resumes from the last good
one. Every candidate uses the search's seed, so candidates differ only by their settings. Its score
at an epoch is `score()`: the spectrum distance to the dense model at that epoch (metric ls), or
the validation perplexity (metric loss), with every check that makes it a number a ranking can use.
A finalist's numbers (valid and test perplexity, parameter counts, the file the winner export
copies) all come from the one state `search.final_state` names (`measurement.final_state`).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from hyperprune.config import to_dict
from hyperprune.errors import UserError
from hyperprune.files import atomic_write_text
from hyperprune.lyapunov import distance
from hyperprune.perplexity import perplexity
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.measurement import FinalState, Measured
from hyperprune.search.proposals import Proposal
from hyperprune.strict_json import finite_or_null
from hyperprune.train import Trainer, TrainingDiverged
from hyperprune.train.checkpoint import checkpoint_path


class JobFailed(Exception):
    """The candidate cannot go on (diverged, non-finite score): recorded as failed, the search goes on."""

    def __init__(self, reason: str, result: dict[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.result = result


def repeated_training(trainer: Trainer, job: Job, records: dict[str, JobRecord]) -> dict[str, Any]:
    """What `job` trains again because its candidate's checkpoints are gone (deleted by hand, a
    disk cleaned): {"epochs_repeated", "train_s_repeated"}, counted in the search's cost; {} when
    the trainer starts where the candidate's finished jobs left it. Warns in one line."""
    done = [r.result for r in records.values()
            if r.job.candidate == job.candidate and r.job.replica == job.replica and r.state == "done" and r.result]
    reached = max((r.get("epochs_trained", 0) for r in done), default=0)
    start = trainer.epoch
    if start >= reached:
        return {}
    warnings.warn(f"candidate {job.candidate}: its checkpoint of epoch {reached} in '{trainer.checkpoint_dir}' "
                  f"is gone; training it again from epoch {start + 1}", stacklevel=2)
    epochs = min(reached, job.epoch) - start
    spent = max(r.get("train_s", 0.0) for r in done) - trainer.train_wall_s      # on the epochs now lost
    return {"epochs_repeated": epochs, "train_s_repeated": spent * epochs / (reached - start)}


@dataclass
class Score:
    """A candidate's numbers at one epoch, or why it cannot be ranked (`failure`)."""
    valid_ppl: float
    value: float | None                 # what the rounds rank: the distance, or valid_ppl
    spectrum: list[float | None] | None  # mean exponents as stored (non-finite ones as None)
    spectrum_s: float
    failure: str | None = None


class CandidateRun:
    """One candidate of a search, on the `bench` (a `Workbench`) of the process that runs it."""

    def __init__(self, bench, candidate: int, proposal: Proposal, replica: int = 0):
        """`replica` k > 0: the candidate trained from scratch under seed + k (a `seed` job): the same
        settings, other initial weights, masks and regrowth draws, in a folder of its own."""
        self.bench = bench
        self.cfg = bench.cfg
        self.candidate = candidate
        self.proposal = proposal
        self.run_dir = bench.candidate_dir(candidate, replica)
        run_cfg = bench.space.run_config(proposal.params, str(self.run_dir))
        self.run_cfg = replace(run_cfg, seed=run_cfg.seed + replica) if replica else run_cfg
        self.trainer = bench.trainer(self.run_cfg, self.run_dir)
        self._write_identity()

    def spectrum_file(self, epoch: int) -> Path:
        return self.run_dir / "spectra" / f"epoch-{epoch:04d}.json"

    def reach(self, epoch: int, wants_spectrum: bool, check_lease) -> Measured:
        """Train to `epoch` and measure it (see `measurement.reach`); JobFailed if it diverges."""
        try:
            return self.bench.reach(self.trainer, epoch, self.spectrum_file(epoch) if wants_spectrum else None,
                                    lambda d: self.bench.trainer(self.run_cfg, d), check_lease)
        except TrainingDiverged as exc:
            raise JobFailed(f"diverged: {exc}", self.partial()) from None

    def score(self, reached: Measured, epoch: int, records: dict[str, JobRecord], wants_spectrum: bool) -> Score:
        """The candidate's score at `epoch` against the dense spectrum stored in `records`."""
        valid_ppl = perplexity(reached.valid_loss)
        if not math.isfinite(valid_ppl) or valid_ppl >= math.exp(700.0):
            return Score(valid_ppl, None, None, 0.0, f"diverged: validation perplexity is {valid_ppl} at epoch {epoch}")
        if not wants_spectrum:
            return Score(valid_ppl, valid_ppl, None, 0.0)
        spectrum = reached.spectrum
        out = Score(valid_ppl, None, [finite_or_null(float(v)) for v in spectrum.mean], reached.spectrum_s)
        if not spectrum.all_finite:
            out.failure = f"spectrum at epoch {epoch} is not finite: " + "; ".join(spectrum.issues)
            return out
        dense = torch.tensor(records[Job("dense", epoch).key].result["spectrum"], dtype=torch.float64)
        try:
            value = distance(self.cfg.lyapunov.distance, spectrum, dense)
        except UserError as exc:                 # e.g. a spectrum of another length than the dense one
            out.failure = str(exc)
            return out
        if not math.isfinite(value):
            out.failure = f"spectrum distance is not finite at epoch {epoch}"
            return out
        out.value = value
        return out

    def partial(self) -> dict[str, Any]:
        """What the candidate has trained so far (also recorded for a failed job)."""
        return {
            "epochs_trained": self.trainer.epoch,
            "valid_ppl_by_epoch": {str(r.epoch): finite_or_null(r.valid_ppl) for r in self.trainer.history},
            "train_s": self.trainer.train_wall_s,
        }

    # -- the jobs -------------------------------------------------------------------------------

    def run_to(self, job: Job, records: dict[str, JobRecord], check_lease) -> tuple[dict[str, Any], float]:
        """A `score` job (trained to its epoch and scored there) or a `final` or `seed` one (to the
        budget, then tested)."""
        epoch = job.epoch
        if self.trainer.epoch > epoch:
            raise RuntimeError(f"candidate {job.candidate} is already trained to epoch {self.trainer.epoch}, "
                               f"past job {job.key}")
        wants_spectrum = job.kind == "score" and self.cfg.search.metric == "ls"
        reached = self.reach(epoch, wants_spectrum, check_lease)
        try:
            scored = self.score(reached, epoch, records, wants_spectrum)
            result = self.partial()
            result.update(epoch=epoch, valid_ppl=scored.valid_ppl, score=scored.value, spectrum=scored.spectrum,
                          spectrum_s=scored.spectrum_s, test_ppl=None, scores={}, spectra={},
                          checkpoint=str(checkpoint_path(self.trainer.checkpoint_dir, epoch)))
            if scored.failure is not None:
                raise JobFailed(scored.failure, result)
        finally:
            reached.release()
        # The shape every candidate job's result has (`jobs.job_scores`): a score job's one score by
        # its epoch; a final or seed job is ranked on its final numbers, not on a score.
        if job.kind == "score":
            result["scores"] = {str(epoch): scored.value}
            if scored.spectrum is not None:
                result["spectra"] = {str(epoch): scored.spectrum}
        if job.kind in ("final", "seed"):
            result.update(self.final_numbers(check_lease))
        return result, result["score"]

    def final_numbers(self, check_lease) -> dict[str, Any]:
        """The run's final numbers and the file they were evaluated on, from one state
        (`search.final_state`): the valid ppl that picks the winner is the test ppl's model's."""
        try:
            ended: FinalState = self.bench.final_state(self.trainer, lambda d: self.bench.trainer(self.run_cfg, d),
                                                       check_lease)
        except TrainingDiverged as exc:          # a rewind cannot diverge where the run did not
            raise JobFailed(f"diverged: {exc}", self.partial()) from None
        return {"valid_ppl": ended.valid_ppl, "test_ppl": ended.test_ppl, "state_epoch": ended.epoch,
                "params_total": ended.params_total, "params_nonzero": ended.params_nonzero,
                "checkpoint": ended.checkpoint}

    def _write_identity(self) -> None:
        """A candidate folder says what it holds, for people browsing the checkpoint directory."""
        path = self.run_dir / "candidate.json"
        if path.exists():
            held = json.loads(path.read_text()).get("fingerprint")
            if held != self.proposal.fingerprint:
                raise UserError(f"'{self.run_dir}' holds another candidate {held} (from another search?), not "
                                f"{self.proposal.fingerprint}; give this search a fresh search.checkpoint_dir "
                                f"or run_dir")
        else:
            atomic_write_text(path, json.dumps({"id": self.candidate, "params": self.proposal.params,
                                                "fingerprint": self.proposal.fingerprint,
                                                "config": to_dict(self.run_cfg)}, indent=2) + "\n")
