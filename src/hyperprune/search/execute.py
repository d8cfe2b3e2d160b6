"""Running one job: what a worker keeps between jobs, and the dense reference's job.

A `Workbench` holds the config, its space and strategy, one corpus, one probe and the device, and
runs whatever job a worker claimed: `dense` here, a candidate's (`score`, `final`, `asha`) through
`candidate.CandidateRun`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Callable

import optuna

from hyperprune.config import to_dict
from hyperprune.data import Corpus, load_corpus
from hyperprune.files import atomic_write_text
from hyperprune.search.asha_trial import AshaTrial
from hyperprune.search.candidate import CandidateRun, JobFailed
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.measurement import FinalState, Measured, final_state, reach
from hyperprune.search.proposals import Proposal
from hyperprune.search.dense_reference import DenseReference
from hyperprune.search.probe import build_probe, probe_sequences
from hyperprune.search.space import SearchSpace
from hyperprune.search.spectrum import spectrum_tag
from hyperprune.search.strategies import strategy_for
from hyperprune.train import Trainer, TrainingDiverged, resolve_device

__all__ = ["JobFailed", "JobYielded", "LeaseLost", "Workbench"]


class LeaseLost(Exception):
    """Another worker took this job over (this one was presumed dead): drop the work silently."""


class JobYielded(Exception):
    """The job waits on a job nobody runs (asha candidate-order): give it back, run that one first."""


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


class Workbench:
    """What a worker keeps between jobs: the config, its space and strategy, one corpus and one probe."""

    def __init__(self, cfg, device: str | None = None, study: optuna.Study | None = None, *,
                 corpus: Corpus | None = None, probe=None):
        """`study` is the main study (ASHA asks its trials from it). `corpus` and `probe`, where
        given, were read already (the search checks its data before it stores anything, and before
        the study this bench works for exists)."""
        self.cfg = cfg
        self.study = study
        self.device = resolve_device(device or cfg.device)
        self.space = SearchSpace.from_config(cfg)
        self.strategy = strategy_for(cfg)
        self.reference = DenseReference(cfg)
        self.compared = set(self.strategy.compared_epochs())
        self._corpus = corpus
        self._probes = {cfg.lyapunov.sequences: probe} if probe is not None else {}

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = load_corpus(self.cfg.data)
        return self._corpus

    @property
    def probe(self):
        """The first round's probe (e0)."""
        return self.probe_at(self.cfg.search.first_epoch)

    def probe_at(self, epoch: int):
        """The probe a score at `epoch` is measured on (`reference.probe_sequences`)."""
        n = probe_sequences(self.cfg, epoch)
        if n not in self._probes:
            self._probes[n] = build_probe(self.cfg, self.corpus.valid, n)
        return self._probes[n]

    def tag_at(self, epoch: int) -> str:
        return spectrum_tag(self.cfg, self.probe_at(epoch))

    def candidate_dir(self, candidate: int, replica: int = 0) -> Path:
        """Where a candidate trains; under seed + replica (search.final_seeds), a folder beside it."""
        name = f"{candidate:04d}" if not replica else f"{candidate:04d}.seed+{replica}"
        return Path(self.cfg.checkpoint_dir) / name

    def trainer(self, run_cfg, run_dir: Path) -> Trainer:
        return Trainer(run_cfg, run_dir, device=self.device, corpus=self.corpus, verbose=False, progress=None)

    def reach(self, trainer: Trainer, epoch: int, spectrum_path: Path | None, scratch_trainer,
              check_lease) -> Measured:
        """`trainer` brought to `epoch`, with the validation loss and spectrum of the state
        `lyapunov.measure` names (see measurement.py), keeping the best-validation state on the way
        when `search.final_state` reports it."""
        return reach(trainer, epoch, point=self.cfg.lyapunov.measure, spectrum_path=spectrum_path,
                     probe=self.probe_at(epoch) if spectrum_path is not None else self.probe, cfg=self.cfg,
                     scratch_trainer=scratch_trainer, on_epoch=check_lease,
                     keep_best=self.cfg.search.final_state == "best-valid")

    def final_state(self, trainer: Trainer, scratch_trainer, check_lease) -> FinalState:
        """The final numbers of a run trained to the budget, from the state `search.final_state` names."""
        return final_state(trainer, self.cfg.final_epochs, which=self.cfg.search.final_state,
                           scratch_trainer=scratch_trainer, on_epoch=check_lease)

    # -- jobs ----------------------------------------------------------------------------------

    def run(self, job: Job, proposals: list[Proposal], records: dict[str, JobRecord],
            still_mine: Callable[[], bool], idle: Callable[[list[int]], list[int]] | None = None,
            epoch_done: Callable[[Job, Any], None] | None = None) -> tuple[dict[str, Any], float]:
        """(result, value) of `job`; raises JobFailed for a candidate that cannot go on. `idle` is
        called while an asha trial waits on lower candidates (see `ASHA.stops`); `epoch_done(job,
        record)` after each epoch the job trains (the trainer's `EpochRecord`)."""
        def check_lease(trainer, record) -> None:
            if epoch_done is not None:
                epoch_done(job, record)
            if not still_mine():
                raise LeaseLost(job.key)

        if job.kind == "dense" or (job.kind == "seed" and job.candidate is None):
            return self._dense(job, check_lease)
        if job.kind in ("score", "final", "seed"):
            proposal = next(p for p in proposals if p.slot == job.candidate)
            run = CandidateRun(self, job.candidate, proposal, job.replica)
            repeated = repeated_training(run.trainer, job, records)
            result, value = run.run_to(job, records, check_lease)
            return {**result, **repeated}, value
        if job.kind == "asha":
            # Asked from the study's sampler now (asynchronously: it learns from whatever is finished).
            trial = AshaTrial.open(self.study, self.space, self.cfg, job.candidate, self.strategy.pruner())
            proposal = trial.proposal
            if proposal.duplicate_of is not None:
                return {"duplicate_of": proposal.duplicate_of, "params": proposal.params,
                        "fingerprint": proposal.fingerprint}, 0.0
            run = CandidateRun(self, job.candidate, proposal)
            return run.run_asha(trial, self.strategy, records, check_lease, idle)
        raise ValueError(f"unknown job kind {job.kind!r}")

    def _dense(self, job: Job, check_lease) -> tuple[dict[str, Any], float]:
        """dense@E, or the dense model under another seed (a seed job: to the budget, no spectrum)."""
        epoch = job.epoch
        ref = self.reference if not job.replica else DenseReference(self.cfg, job.replica)
        final = epoch == self.cfg.final_epochs
        need_spectrum = not job.replica and epoch in self.compared
        with ref.lock():
            trainer = self.trainer(ref.config, ref.dir)
            atomic_write_text(ref.dir / "config.json", json.dumps(to_dict(ref.config), indent=2) + "\n")
            scratch = lambda d: self.trainer(ref.config, d)
            try:
                # The dense model has no mask update: before and after it are one state. A model
                # already trained past `epoch` (by a search with a longer budget) is rewound.
                reached = self.reach(trainer, epoch, ref.spectrum_path(self.tag_at(epoch), epoch) if need_spectrum else None,
                                     scratch, check_lease)
                # Its final numbers come from one state, as a candidate's do (measurement.final_state).
                ended = self.final_state(trainer, scratch, check_lease) if final else None
            except TrainingDiverged as exc:
                raise JobFailed(f"dense reference diverged: {exc}") from None
            try:
                spectrum = reached.spectrum
                if spectrum is not None and not spectrum.all_finite:
                    raise JobFailed("the dense spectrum is not finite: " + "; ".join(spectrum.issues))
            finally:
                reached.release()
        history = trainer.history[:epoch]
        valid_ppl = ended.valid_ppl if final else history[-1].valid_ppl
        result = {
            "epoch": epoch,
            "valid_ppl": valid_ppl,
            "test_ppl": ended.test_ppl if final else None,
            "valid_ppl_by_epoch": {str(r.epoch): r.valid_ppl for r in history},
            "spectrum": [float(v) for v in spectrum.mean] if spectrum is not None else None,
            "train_s": sum(r.wall_s for r in history),
            "spectrum_s": reached.spectrum_s,
            "dir": str(ref.dir),
        }
        if final:
            result.update(state_epoch=ended.epoch, params_total=ended.params_total,
                          params_nonzero=ended.params_nonzero)
        return result, valid_ppl
