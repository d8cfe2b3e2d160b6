"""Which model state a candidate is scored on at epoch e, and how that survives a crash.

A sparse run changes its masks at the end of every epoch (prune, then regrow at zero). The released
LSH code saves the epoch's model *before* that update (train.py:153-165 and 178-193: save, then
`mask.at_end_of_epoch`) and LE_calculation.py measures the saved file, so the paper's spectrum and
its validation loss both see the weights just trained. `lyapunov.measure` chooses:

    before-update  (the paper's) the spectrum is measured in the trainer's `before_mask_update` hook,
                   after validation; the validation loss recorded for the epoch is of that same state;
    after-update   the spectrum of the model the epoch's checkpoint holds (pruned and regrown), and a
                   second validation pass on that state, so that metric `loss` sees it too.

The pre-update state exists only inside the epoch, so the hook writes the spectrum to disk
(atomically) before the trainer saves the epoch's checkpoint: if checkpoint e exists, so does its
spectrum. Should it be missing anyway (deleted, or the run was trained by a job that did not
measure), the epoch is trained again from checkpoint e - 1 in a scratch directory (or from the
start when that checkpoint is gone); training is deterministic, so the scratch run reaches the
same pre-update state bit for bit.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hyperprune.lyapunov import LyapunovSpectrum, Probe
from hyperprune.search.reference import measure
from hyperprune.train import Trainer
from hyperprune.train.checkpoint import atomic_write_text, checkpoint_path

MEASURE_POINTS = ("before-update", "after-update")


@dataclass
class Measured:
    """A run brought to `epoch`, with the validation loss and spectrum of the state it is scored on."""
    trainer: Trainer                   # the run's own trainer, at `epoch` or beyond
    valid_loss: float                  # nats/token, of the measured state
    spectrum: LyapunovSpectrum | None
    spectrum_s: float                  # seconds the spectrum took (also when read back from disk)
    at_epoch: Trainer                  # holds the epoch-`epoch` model: `trainer`, or a scratch rewind
    scratch: Path | None = None        # the rewind's directory: `release()` removes it

    def release(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def save_spectrum(path: Path, spectrum: LyapunovSpectrum, *, epoch: int, point: str, seconds: float) -> None:
    """The spectrum as `LyapunovSpectrum.to_dict`, plus when it was measured (read back by `load_spectrum`)."""
    data = spectrum.to_dict()
    data["measured"] = {"epoch": epoch, "point": point, "seconds": seconds}
    atomic_write_text(path, json.dumps(data) + "\n")


def load_spectrum(path: Path, point: str) -> tuple[LyapunovSpectrum, float] | None:
    """(spectrum, seconds) from `path` if it holds one measured at `point`; None if missing or damaged."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        measured = data.get("measured", {})
        if measured.get("point", "after-update") != point:
            return None
        return LyapunovSpectrum.from_dict(data), float(measured.get("seconds", 0.0))
    except (ValueError, KeyError, TypeError):
        return None


def reach(trainer: Trainer, epoch: int, *, point: str, spectrum_path: Path | None, probe: Probe, cfg,
          scratch_trainer: Callable[[Path], Trainer], on_epoch=None, need_model: bool = False) -> Measured:
    """Train `trainer` to `epoch` (if it is not there yet) and measure the state `point` names.

    `spectrum_path`: where the epoch's spectrum lives (None: no spectrum wanted). `need_model`: the
    caller wants the epoch-`epoch` model itself (`at_epoch`) even if the run has gone past it.
    `scratch_trainer(dir)` makes a trainer of the same run in another directory, for a rewind.
    """
    measured: dict[str, object] = {}

    def before_update(tr: Trainer, e: int) -> None:
        if e == epoch and spectrum_path is not None and point == "before-update":
            spectrum, seconds = measure(tr, probe, cfg)
            save_spectrum(spectrum_path, spectrum, epoch=e, point=point, seconds=seconds)
            measured.update(spectrum=(spectrum, seconds))

    if trainer.epoch < epoch:
        trainer.train(until_epoch=epoch, on_epoch=on_epoch, before_mask_update=before_update)
    stored = measured.get("spectrum") or (load_spectrum(spectrum_path, point) if spectrum_path else None)
    after = point == "after-update"
    missing = spectrum_path is not None and stored is None
    sparse = trainer.sparse is not None
    at_epoch, scratch = trainer, None
    if (trainer.epoch > epoch and (need_model or missing or (after and sparse))) or (missing and not after):
        # The state wanted is gone: the run is past it, or it existed only inside epoch `epoch`.
        at_epoch, scratch = _rewind(trainer, epoch, scratch_trainer, before_update, on_epoch)
        stored = measured.get("spectrum") or stored
    out = Measured(trainer, valid_loss=trainer.history[epoch - 1].valid_loss, spectrum=None, spectrum_s=0.0,
                   at_epoch=at_epoch, scratch=scratch)
    if after and sparse:
        # The recorded validation ran before the update; score the state actually measured.
        out.valid_loss = at_epoch.evaluate_loss("valid")
    if spectrum_path is not None and stored is None:          # after-update: the checkpoint's state
        spectrum, seconds = measure(at_epoch, probe, cfg)
        save_spectrum(spectrum_path, spectrum, epoch=epoch, point=point, seconds=seconds)
        stored = spectrum, seconds
    if stored is not None:
        out.spectrum, out.spectrum_s = stored
    return out


def _rewind(trainer: Trainer, epoch: int, scratch_trainer, before_update, on_epoch) -> tuple[Trainer, Path]:
    """A scratch copy of the run trained to `epoch` from checkpoint epoch - 1 when the run still has it
    (it keeps its two newest), else from the start; the hook measures on the way."""
    scratch = trainer.run_dir / f"rewind-{epoch:04d}"
    shutil.rmtree(scratch, ignore_errors=True)
    previous = checkpoint_path(trainer.checkpoint_dir, epoch - 1)
    if epoch > 1 and previous.is_file():
        for source in (previous, previous.with_suffix(".sha256")):
            if source.is_file():
                target = scratch / "checkpoints" / source.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    rewound = scratch_trainer(scratch)
    rewound.train(until_epoch=epoch, on_epoch=on_epoch, before_mask_update=before_update)
    return rewound, scratch
