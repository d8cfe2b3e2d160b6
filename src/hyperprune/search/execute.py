"""Running one job: train a model (resuming from its checkpoints) to an epoch and measure it.

Candidates train in `CHECKPOINT_DIR/<id>/`, an ordinary trainer run directory: a survivor of a round
continues from its checkpoint, and a job taken over after a crash resumes from the last good one.
Every candidate uses the search's seed, so candidates differ only by their settings.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import optuna
import torch

from hyperprune.config import to_dict
from hyperprune.data import Corpus, load_corpus
from hyperprune.errors import UserError
from hyperprune.files import atomic_write_text
from hyperprune.lyapunov import distance
from hyperprune.perplexity import perplexity
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.measurement import LAST_IMPROVING, Measured, reach
from hyperprune.search.proposals import Proposal
from hyperprune.search.reference import DenseReference, build_probe, spectrum_tag
from hyperprune.search.schedule import asha_rungs, compare_epochs
from hyperprune.search.space import SearchSpace
from hyperprune.train import Trainer, TrainingDiverged, resolve_device
from hyperprune.train.checkpoint import checkpoint_path


class JobFailed(Exception):
    """The candidate cannot go on (diverged, non-finite score): recorded as failed, the search goes on."""

    def __init__(self, reason: str, result: dict[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.result = result


class LeaseLost(Exception):
    """Another worker took this job over (this one was presumed dead): drop the work silently."""


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _spectrum_file(run_dir: Path, epoch: int) -> Path:
    return run_dir / "spectra" / f"epoch-{epoch:04d}.json"


class Workbench:
    """What a worker keeps between jobs: the config, its space, one corpus and one probe."""

    def __init__(self, cfg, device: str | None = None, study: optuna.Study | None = None, *,
                 corpus: Corpus | None = None, probe=None):
        """`corpus` and `probe`, where given, were read already (the search checks its data before it
        stores anything, and before the study this bench works for exists)."""
        self.cfg = cfg
        self.study = study                  # the main study (ASHA asks its trials from it)
        self.device = resolve_device(device or cfg.device)
        self.space = SearchSpace.from_config(cfg)
        self.reference = DenseReference(cfg)
        s = cfg.search
        self.compared = set(compare_epochs(s.strategy, s.metric, s.first_epoch, s.epochs_per_round,
                                           cfg.final_epochs, s.n_candidates, s.keep, s.finalists))
        self._corpus = corpus
        self._probe = probe

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = load_corpus(self.cfg.data)
        return self._corpus

    @property
    def probe(self):
        if self._probe is None:
            self._probe = build_probe(self.cfg, self.corpus.valid)
        return self._probe

    @property
    def tag(self) -> str:
        return spectrum_tag(self.cfg, self.probe)

    def candidate_dir(self, candidate: int) -> Path:
        return Path(self.cfg.checkpoint_dir) / f"{candidate:04d}"

    def trainer(self, run_cfg, run_dir: Path) -> Trainer:
        return Trainer(run_cfg, run_dir, device=self.device, corpus=self.corpus, verbose=False, progress=None)

    # -- jobs ----------------------------------------------------------------------------------

    def run(self, job: Job, proposals: list[Proposal], records: dict[str, JobRecord],
            still_mine: Callable[[], bool]) -> tuple[dict[str, Any], float]:
        """(result, value) of `job`; raises JobFailed for a candidate that cannot go on."""
        def check_lease(trainer, record) -> None:
            if not still_mine():
                raise LeaseLost(job.key)

        if job.kind == "dense":
            return self._dense(job, check_lease)
        if job.kind in ("score", "final"):
            proposal = next(p for p in proposals if p.slot == job.candidate)
            return self._candidate(job, proposal, records, check_lease)
        if job.kind == "asha":
            return self._asha(job, records, check_lease)
        raise ValueError(f"unknown job kind {job.kind!r}")

    def _asha(self, job: Job, records: dict[str, JobRecord], check_lease) -> tuple[dict[str, Any], float]:
        """One ASHA trial: asked from the study's sampler now (asynchronously: it learns from whatever
        is finished), trained rung by rung, stopped when Optuna's successive-halving pruner says so."""
        from hyperprune.search import asha
        s, c = self.cfg.search, job.candidate
        trial, proposal = asha.asha_trial(self.study, self.space, self.cfg, c)
        if proposal.duplicate_of is not None:
            return {"duplicate_of": proposal.duplicate_of, "params": proposal.params,
                    "fingerprint": proposal.fingerprint}, 0.0
        run_dir = self.candidate_dir(c)
        run_cfg = self.space.run_config(proposal.params, str(run_dir))
        trainer = self.trainer(run_cfg, run_dir)
        _write_identity(run_dir, c, proposal, run_cfg)
        result: dict[str, Any] = {"params": proposal.params, "fingerprint": proposal.fingerprint,
                                  "scores": {}, "spectra": {}, "spectrum_s": 0.0, "pruned_at": None,
                                  "test_ppl": None}
        finished = trial.state.is_finished()   # taken over after the trial ended: replay its numbers
        # Taken over mid-trial: a rung the trial reported and then trained past was a promotion the
        # pruner already granted; asking again, against more competitors, could revoke it.
        passed = {e for e in trial.intermediate_values if e < trainer.epoch}
        for rung, epoch in enumerate(asha_rungs_of(self.cfg)):
            if finished:
                if epoch not in trial.intermediate_values or trial.state == optuna.trial.TrialState.FAIL:
                    raise JobFailed("its ASHA trial failed before this worker took it over", result)
                result["scores"][str(epoch)] = score = trial.intermediate_values[epoch]
                valid_ppl = trainer.history[epoch - 1].valid_ppl
                if trial.state == optuna.trial.TrialState.PRUNED and epoch == trial.last_step:
                    result.update(self._partial(trainer), pruned_at=rung, valid_ppl=valid_ppl, epoch=epoch)
                    return result, score
                continue
            wants_spectrum = s.metric == "ls"
            try:
                reached = self._reach(trainer, epoch, _spectrum_file(run_dir, epoch) if wants_spectrum else None,
                                      lambda d: self.trainer(run_cfg, d), check_lease)
            except TrainingDiverged as exc:
                asha.finish(self.study, trial._trial_id, optuna.trial.TrialState.FAIL)
                raise JobFailed(f"diverged: {exc}", {**result, **self._partial(trainer)}) from None
            reached.release()
            valid_ppl = perplexity(reached.valid_loss)
            score = valid_ppl
            if wants_spectrum:
                spectrum = reached.spectrum
                result["spectrum_s"] += reached.spectrum_s
                result["spectra"][str(epoch)] = [_finite_or_none(float(v)) for v in spectrum.mean]
                dense = records[Job("dense", epoch).key].result["spectrum"]
                score = distance(self.cfg.lyapunov.distance, spectrum, torch.tensor(dense, dtype=torch.float64))
            if not math.isfinite(score):
                asha.finish(self.study, trial._trial_id, optuna.trial.TrialState.FAIL)
                raise JobFailed(f"score is not finite at epoch {epoch}", {**result, **self._partial(trainer)})
            result["scores"][str(epoch)] = score
            asha.report(self.study, trial._trial_id, epoch, score)
            if epoch < self.cfg.final_epochs and epoch not in passed:
                if asha.should_stop(self.study, self.cfg, trial._trial_id):
                    asha.finish(self.study, trial._trial_id, optuna.trial.TrialState.PRUNED)
                    result.update(self._partial(trainer), pruned_at=rung, valid_ppl=valid_ppl, epoch=epoch)
                    return result, score
        result.update(self._partial(trainer), valid_ppl=valid_ppl, epoch=self.cfg.final_epochs,
                      test_ppl=trainer.evaluate("test"),
                      checkpoint=str(checkpoint_path(trainer.checkpoint_dir, self.cfg.final_epochs)))
        asha.finish(self.study, trial._trial_id, optuna.trial.TrialState.COMPLETE, [score])
        return result, score

    def _dense(self, job: Job, check_lease) -> tuple[dict[str, Any], float]:
        epoch, ref = job.epoch, self.reference
        final = epoch == self.cfg.final_epochs
        need_spectrum = epoch in self.compared
        with ref.lock():
            trainer = self.trainer(ref.config, ref.dir)
            atomic_write_text(ref.dir / "config.json", json.dumps(to_dict(ref.config), indent=2) + "\n")
            try:
                # The dense model has no mask update: before and after it are one state, and a
                # model already trained past `epoch` (by a search with a longer budget) is rewound.
                reached = self._reach(trainer, epoch, ref.spectrum_path(self.tag, epoch) if need_spectrum else None,
                                      lambda d: self.trainer(ref.config, d), check_lease, need_model=final)
            except TrainingDiverged as exc:
                raise JobFailed(f"dense reference diverged: {exc}") from None
            try:
                spectrum = reached.spectrum
                if spectrum is not None and not spectrum.all_finite:
                    raise JobFailed("the dense spectrum is not finite: " + "; ".join(spectrum.issues))
                test_ppl = reached.at_epoch.evaluate("test") if final else None
            finally:
                reached.release()
        history = trainer.history[:epoch]
        valid_ppl = history[-1].valid_ppl
        result = {
            "epoch": epoch,
            "valid_ppl": valid_ppl,
            "test_ppl": test_ppl,
            "valid_ppl_by_epoch": {str(r.epoch): r.valid_ppl for r in history},
            "spectrum": [float(v) for v in spectrum.mean] if spectrum is not None else None,
            "train_s": sum(r.wall_s for r in history),
            "spectrum_s": reached.spectrum_s,
            "dir": str(ref.dir),
        }
        return result, valid_ppl

    def _candidate(self, job: Job, proposal: Proposal, records: dict[str, JobRecord],
                   check_lease) -> tuple[dict[str, Any], float]:
        epoch = job.epoch
        run_dir = self.candidate_dir(job.candidate)
        run_cfg = self.space.run_config(proposal.params, str(run_dir))
        trainer = self.trainer(run_cfg, run_dir)
        _write_identity(run_dir, job.candidate, proposal, run_cfg)
        if trainer.epoch > epoch:
            raise RuntimeError(f"candidate {job.candidate} is already trained to epoch {trainer.epoch}, "
                               f"past job {job.key}")
        wants_spectrum = job.kind == "score" and self.cfg.search.metric == "ls"
        try:
            reached = self._reach(trainer, epoch, _spectrum_file(run_dir, epoch) if wants_spectrum else None,
                                  lambda d: self.trainer(run_cfg, d), check_lease)
        except TrainingDiverged as exc:
            raise JobFailed(f"diverged: {exc}", self._partial(trainer)) from None
        try:
            result = self._partial(trainer)
            valid_ppl = perplexity(reached.valid_loss)
            if not math.isfinite(valid_ppl) or valid_ppl >= math.exp(700.0):
                raise JobFailed(f"diverged: validation perplexity is {valid_ppl} at epoch {epoch}", result)
            result.update(epoch=epoch, valid_ppl=valid_ppl, score=valid_ppl, spectrum=None, spectrum_s=0.0,
                          test_ppl=None, checkpoint=str(checkpoint_path(trainer.checkpoint_dir, epoch)))
            if wants_spectrum:
                dense = records[Job("dense", epoch).key].result["spectrum"]
                spectrum = reached.spectrum
                result.update(spectrum=[_finite_or_none(float(v)) for v in spectrum.mean],
                              spectrum_s=reached.spectrum_s)
                if not spectrum.all_finite:
                    raise JobFailed(f"spectrum at epoch {epoch} is not finite: " + "; ".join(spectrum.issues), result)
                try:
                    score = distance(self.cfg.lyapunov.distance, spectrum, torch.tensor(dense, dtype=torch.float64))
                except UserError as exc:
                    raise JobFailed(str(exc), result) from None
                if not math.isfinite(score):
                    raise JobFailed(f"spectrum distance is not finite at epoch {epoch}", result)
                result["score"] = score
            if job.kind == "final":
                result["test_ppl"] = reached.at_epoch.evaluate("test")
                # No epoch of a finalist is scored again: the kept pre-update weights (a model's
                # worth of disk) have served.
                (run_dir / LAST_IMPROVING).unlink(missing_ok=True)
        finally:
            reached.release()
        return result, result["score"]

    def _reach(self, trainer: Trainer, epoch: int, spectrum_path: Path | None, scratch_trainer, check_lease,
               need_model: bool = False) -> Measured:
        """`trainer` brought to `epoch`, with the validation loss and spectrum of the state
        `lyapunov.measure` names (see measurement.py)."""
        return reach(trainer, epoch, point=self.cfg.lyapunov.measure, spectrum_path=spectrum_path,
                     probe=self.probe, cfg=self.cfg, scratch_trainer=scratch_trainer, on_epoch=check_lease,
                     need_model=need_model)

    @staticmethod
    def _partial(trainer: Trainer) -> dict[str, Any]:
        return {
            "epochs_trained": trainer.epoch,
            "valid_ppl_by_epoch": {str(r.epoch): _finite_or_none(r.valid_ppl) for r in trainer.history},
            "train_s": trainer.train_wall_s,
        }


def asha_rungs_of(cfg) -> list[int]:
    return asha_rungs(cfg.search.first_epoch, cfg.search.keep, cfg.final_epochs)


def _write_identity(run_dir: Path, candidate: int, proposal: Proposal, run_cfg) -> None:
    """A candidate folder says what it holds, for people browsing the checkpoint directory."""
    path = run_dir / "candidate.json"
    if path.exists():
        held = json.loads(path.read_text()).get("fingerprint")
        if held != proposal.fingerprint:
            raise UserError(f"'{run_dir}' holds another candidate {held} (from another search?), not "
                            f"{proposal.fingerprint}; give this search a fresh search.checkpoint_dir or run_dir")
    else:
        atomic_write_text(path, json.dumps({"id": candidate, "params": proposal.params,
                                            "fingerprint": proposal.fingerprint,
                                            "config": to_dict(run_cfg)}, indent=2) + "\n")
