"""Running one job: what a worker keeps between jobs, and the dense reference's job.

A `Workbench` holds the config, its space and strategy, one corpus, one probe and the device, and
runs whatever job a worker claimed: the dense model's here, a candidate's by its strategy
(`SearchStrategy.run_job`: `score`, `final` and `seed` through `candidate.CandidateRun`, or a job
kind of the strategy's own, such as asha's trials).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna

from hyperprune.config import to_dict
from hyperprune.data import Corpus, load_corpus
from hyperprune.files import atomic_write_text
from hyperprune.search.candidate import JobFailed
from hyperprune.search.jobs import Job, JobLease, JobRecord, LeaseLost
from hyperprune.search.measurement import FinalState, Measured, final_state, reach
from hyperprune.search.proposals import Proposal
from hyperprune.search.dense_reference import DenseReference
from hyperprune.search.probe import build_probe, probe_sequences
from hyperprune.search.space import SearchSpace
from hyperprune.search.spectrum import spectrum_tag
from hyperprune.train import Trainer, TrainingDiverged, resolve_device

__all__ = ["JobFailed", "LeaseLost", "Workbench"]


class Workbench:
    """What a worker keeps between jobs: the config, its space and strategy, one corpus and one probe."""

    def __init__(self, cfg, strategy, device: str | None = None, study: optuna.Study | None = None, *,
                 corpus: Corpus | None = None, probe=None):
        """`strategy` is the search's (`SearchStrategy`, built once where the search starts): it runs
        the candidates' jobs. `study` is the main study (ASHA asks its trials from it). `corpus` and
        `probe`, where given, were read already (the search checks its data before it stores
        anything, and before the study this bench works for exists)."""
        self.cfg = cfg
        self.study = study
        self.device = resolve_device(device or cfg.device)
        self.space = SearchSpace.from_config(cfg)
        self.strategy = strategy
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
        """The probe a score at `epoch` is measured on (`probe.probe_sequences`)."""
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
            lease: JobLease) -> tuple[dict[str, Any], float]:
        """(result, value) of `job`; raises JobFailed for a model that cannot go on, LeaseLost when
        the job was taken over. The dense model's jobs are the bench's own; a candidate's are its
        strategy's (`SearchStrategy.run_job`), whatever their kind."""
        if job.candidate is None:
            return self._dense(job, lease.check)
        return self.strategy.run_job(self, job, proposals, records, lease)

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
