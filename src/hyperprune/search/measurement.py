"""Which model state a candidate is scored on at epoch e, and how that survives a crash.

A sparse run changes its masks at the end of every epoch (prune, then regrow at zero). The released
LSH code saves an epoch's model *before* that update, and only when its validation loss beats every
earlier epoch's (train.py:153-165, 178-193: save if improved, then `mask.at_end_of_epoch`);
LE_calculation.py measures the saved files and util.py:181-192 compares the last one up to e. So
its spectrum at e is that of the last improving epoch k <= e, before k's update, and its loss
metric is the best validation loss so far (train.py:202). `lyapunov.measure` chooses:

    last-improving (the paper's) the pre-update state of the last epoch k <= e that improved
                   validation; the loss is that epoch's, the best so far. When e itself improved
                   (usual early in training) this is `before-update`;
    before-update  the pre-update state of epoch e and its validation loss;
    after-update   the model epoch e's checkpoint holds (pruned and regrown), and a second validation
                   pass on that state, so that metric `loss` sees it too.

The pre-update state exists only inside the epoch, so the trainer's `before_mask_update` hook
measures it and writes the spectrum to disk (atomically) before the trainer saves the epoch's
checkpoint: if checkpoint e exists, so does its spectrum. With `last-improving` the hook also keeps
the pre-update weights of each improving epoch (`best-valid/epoch-NNNN.pt`, the run's best-validation
state) for a later epoch that does not improve. Should a spectrum be missing anyway (deleted, or the run was trained by a job that did not
measure), the epoch is trained again in a scratch directory, from checkpoint e - 1 when it exists,
else from the start; training is deterministic, so the scratch run reaches the same state bit for bit.
The dense model has no mask update: for it, before and after are one state.

A model's final numbers (`final_state`, `search.final_state`) all come from one saved state, the
file the winner export copies: `best-valid` (the default, the paper's: the kept state of the epoch
<= the budget with the best validation loss, which is the last improving one; hyperpruning.py:31-34
-> train.py:106-118 evaluate the file train.py saved) or `last` (the last epoch's checkpoint). Its
validation and test perplexities and parameter counts are evaluated on that file, by the computation
`hyperprune evaluate` runs.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hyperprune.files import atomic_write_bytes, atomic_write_text
from hyperprune.lyapunov import LyapunovSpectrum, Probe
from hyperprune.perplexity import perplexity
from hyperprune.search.spectrum import measure, measure_model
from hyperprune.train import Trainer, evaluate_model, load_trained
from hyperprune.train.checkpoint import checkpoint_path, list_checkpoints, read_checkpoint, save_checkpoint

MEASURE_POINTS = ("last-improving", "before-update", "after-update")
BEST_VALID = "best-valid"          # a run directory's folder of kept best-validation states


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


def last_improving(val_losses: list[float], epoch: int) -> int:
    """The last epoch k <= `epoch` whose validation loss beat every earlier one (epoch 1 always does),
    as train.py:178-183 decides which epochs to save (`val_loss < stored_loss`)."""
    best, last = float("inf"), 1
    for k, loss in enumerate(val_losses[:epoch], start=1):
        if loss < best:
            best, last = loss, k
    return last


def best_valid_path(run_dir: Path, epoch: int) -> Path:
    """Where the kept evaluation state of `epoch` (an improving one) lives."""
    return checkpoint_path(Path(run_dir) / BEST_VALID, epoch)


def _keep_state(trainer: Trainer, epoch: int) -> None:
    """The weights as evaluated (ASGD averages) at improving epoch `epoch`, before its update: the
    state a later epoch that does not improve is measured as, and the run's best-validation state.
    Older kept states are superseded (kept states of later epochs, written by a longer run, stay)."""
    save_checkpoint(Path(trainer.run_dir) / BEST_VALID, epoch, trainer.evaluation_payload(epoch), keep=0)
    for older, path in list_checkpoints(Path(trainer.run_dir) / BEST_VALID):
        if older < epoch:
            path.unlink(missing_ok=True)
            path.with_suffix(".sha256").unlink(missing_ok=True)


def _measure_kept(trainer: Trainer, epoch: int, probe: Probe, cfg) -> tuple[LyapunovSpectrum, float] | None:
    """The spectrum of the weights `_keep_state` kept for `epoch`, measured on `trainer`'s model and
    put back bit for bit; None when no state of that epoch is kept."""
    path = best_valid_path(trainer.run_dir, epoch)
    if not path.is_file():
        return None
    kept = read_checkpoint(path, map_location=trainer.device)
    model = trainer.model
    current = {name: value.detach().clone() for name, value in model.state_dict().items()}
    start = time.perf_counter()
    try:
        model.load_state_dict(kept["model"])
        spectrum = measure_model(model, probe, cfg)
    finally:
        model.load_state_dict(current)
    return spectrum, time.perf_counter() - start


def reach(trainer: Trainer, epoch: int, *, point: str, spectrum_path: Path | None, probe: Probe, cfg,
          scratch_trainer: Callable[[Path], Trainer], on_epoch=None, keep_best: bool = False) -> Measured:
    """Train `trainer` to `epoch` (if it is not there yet) and measure the state `point` names.

    `spectrum_path`: where the epoch's spectrum lives (None: no spectrum wanted). `keep_best`: keep
    the best-validation state on the way (for `final_state`) even when no spectrum needs it.
    `scratch_trainer(dir)` makes a trainer of the same run in another directory, for a rewind.
    """
    if trainer.sparse is None and point == "before-update":
        point = "after-update"        # one state: measured from the checkpoint, cached for both points
    last = point == "last-improving"
    keep = keep_best or (last and spectrum_path is not None)
    measured: dict[str, object] = {}

    def before_update(tr: Trainer, e: int) -> None:
        if e > epoch:
            return
        improved = last_improving(tr.val_losses, e) == e
        if keep and improved:
            _keep_state(tr, e)        # a later epoch that does not improve is measured as this one
        if spectrum_path is None or point == "after-update" or e != epoch:
            return
        if improved or not last:
            spectrum, seconds = measure(tr, probe, cfg)
        else:
            stored = _measure_kept(tr, last_improving(tr.val_losses, e), probe, cfg)
            if stored is None:
                return                # the kept weights are gone: `reach` rewinds from the start
            spectrum, seconds = stored
        save_spectrum(spectrum_path, spectrum, epoch=e, point=point, seconds=seconds)
        measured.update(spectrum=(spectrum, seconds))

    if trainer.epoch < epoch:
        trainer.train(until_epoch=epoch, on_epoch=on_epoch, before_mask_update=before_update)
    stored = measured.get("spectrum") or (load_spectrum(spectrum_path, point) if spectrum_path else None)
    after = point == "after-update"
    missing = spectrum_path is not None and stored is None
    if missing and last and trainer.epoch >= epoch:
        k = last_improving(trainer.val_losses, epoch)
        if k < epoch and (stored := _measure_kept(trainer, k, probe, cfg)) is not None:
            save_spectrum(spectrum_path, stored[0], epoch=epoch, point=point, seconds=stored[1])
            missing = False
    sparse = trainer.sparse is not None
    at_epoch, scratch = trainer, None
    if (trainer.epoch > epoch and (missing or (after and sparse))) or (missing and not after):
        # The state wanted is gone: the run is past it, or it existed only inside an epoch.
        from_previous = not last or last_improving(trainer.val_losses, epoch) == epoch
        at_epoch, scratch = _rewind(trainer, epoch, scratch_trainer, before_update, on_epoch, from_previous)
        stored = measured.get("spectrum") or stored
    k = last_improving(trainer.val_losses, epoch) if last else epoch
    out = Measured(trainer, valid_loss=trainer.history[k - 1].valid_loss, spectrum=None, spectrum_s=0.0,
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


@dataclass
class FinalState:
    """A model's final numbers, every one of them from the one saved state in `checkpoint`."""
    epoch: int                        # whose state: the best-validation epoch, or the budget's
    valid_ppl: float
    test_ppl: float
    params_total: int
    params_nonzero: int               # as evaluated: ASGD averages are zero where the mask is
    checkpoint: str | None            # the file (None: it was a scratch rewind's, now removed)


def final_state(trainer: Trainer, epoch: int, *, which: str, scratch_trainer: Callable[[Path], Trainer],
                on_epoch=None) -> FinalState:
    """The numbers of `trainer`'s run at its budget `epoch` (trained there already), all evaluated on
    the state `which` (`search.config.FINAL_STATES`) names, by the computation `hyperprune evaluate` runs."""
    if trainer.epoch < epoch:
        raise RuntimeError(f"final_state at epoch {epoch} of a run trained to epoch {trainer.epoch}")
    scratch = None
    try:
        if which == "last":
            state_epoch, path = epoch, checkpoint_path(trainer.checkpoint_dir, epoch)
            if not path.is_file():    # a longer run went past it (a dense reference shared by searches)
                rewound, scratch = _rewind(trainer, epoch, scratch_trainer, None, on_epoch, True)
                path = checkpoint_path(rewound.checkpoint_dir, epoch)
        else:
            state_epoch = last_improving(trainer.val_losses, epoch)
            path = best_valid_path(trainer.run_dir, state_epoch)
            saved = checkpoint_path(trainer.checkpoint_dir, state_epoch)
            if not path.is_file() and saved.is_file() and (trainer.sparse is None
                                                           or state_epoch == trainer.cfg.train.epochs):
                # No mask update followed that epoch (a dense run; a sparse run's last epoch), so its
                # checkpoint holds the state as validated: a cache trained before keeping existed
                # is not retrained for it.
                path = saved
            elif not path.is_file():
                # Not kept (trained before keeping was asked for), or superseded by a later improving
                # epoch of a longer run: retrained in scratch, which is deterministic, and kept.
                keep_it = lambda tr, e: _keep_state(tr, e) if e == state_epoch else None
                rewound, scratch = _rewind(trainer, state_epoch, scratch_trainer, keep_it, on_epoch, True)
                source = best_valid_path(rewound.run_dir, state_epoch)
                atomic_write_bytes(path, source.read_bytes())
                atomic_write_text(path.with_suffix(".sha256"), source.with_suffix(".sha256").read_text())
        cfg, model, _ = load_trained(path, trainer.device)
        numbers = evaluate_model(cfg, model, trainer.corpus, trainer.device)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return FinalState(epoch=state_epoch, valid_ppl=perplexity(numbers["valid_loss"], "valid"),
                      test_ppl=perplexity(numbers["test_loss"], "test"), params_total=numbers["params_total"],
                      params_nonzero=numbers["params_nonzero"],
                      checkpoint=None if scratch is not None and which == "last" else str(path))


def _rewind(trainer: Trainer, epoch: int, scratch_trainer, before_update, on_epoch,
            from_previous: bool) -> tuple[Trainer, Path]:
    """A scratch copy of the run trained to `epoch`, from checkpoint epoch - 1 when the run still has it
    (it keeps its two newest) and `from_previous`, else from the start; the hook measures on the way."""
    scratch = trainer.run_dir / f"rewind-{epoch:04d}"
    shutil.rmtree(scratch, ignore_errors=True)
    previous = checkpoint_path(trainer.checkpoint_dir, epoch - 1)
    if from_previous and epoch > 1 and previous.is_file():
        for source in (previous, previous.with_suffix(".sha256")):
            if source.is_file():
                target = scratch / "checkpoints" / source.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    rewound = scratch_trainer(scratch)
    rewound.train(until_epoch=epoch, on_epoch=on_epoch, before_mask_update=before_update)
    return rewound, scratch
