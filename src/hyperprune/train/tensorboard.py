"""`--tensorboard DIR`: a run's log.jsonl, mirrored as TensorBoard scalars with one run per model.

Every number in a log entry (valid_ppl, score, train_loss, lr, wall_s, tokens_per_s, ...) becomes a
scalar tagged by its key at step `epoch`, in the run folder `DIR/NAME` of the model it belongs to
(`train`: the run directory's name; `search`: `dense`, `candidate-0003`). Each model is its own
TensorBoard run, so models share a chart per tag without merging into one curve.

The mirror reads what log.jsonl holds (the one writer of that file stays `epoch_log`), writes each
(model, tag, epoch) once, and flushes after every update so `tensorboard --logdir DIR` follows a run
live. A resumed command clears the event files of the models it writes and writes their history
again from the log, so a curve never holds an epoch twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from hyperprune.errors import UserError

INSTALL = 'pip install "hyperprune[tensorboard]"'

# Keys that say which model and epoch an entry is, not what was measured.
NOT_SCALARS = frozenset({"epoch", "candidate"})


def summary_writer_class() -> type:
    """torch's SummaryWriter, or a one-line UserError saying what to install (torch raises an
    ImportError naming TensorBoard versions when the tensorboard package is missing)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError(f"--tensorboard needs the tensorboard package, which is not installed; "
                        f"install it with: {INSTALL}") from None
    return SummaryWriter


def scalars(entry: dict[str, Any]) -> dict[str, float]:
    """The measured numbers of one log entry; null (not measured, or not finite) and bools are left out."""
    return {key: float(value) for key, value in entry.items()
            if key not in NOT_SCALARS and isinstance(value, (int, float)) and not isinstance(value, bool)}


def search_run_name(entry: dict[str, Any]) -> str:
    """A search log entry's model as a TensorBoard run: `dense` or `candidate-0003` (the candidate
    folder's number)."""
    return "dense" if entry.get("candidate") is None else f"candidate-{int(entry['candidate']):04d}"


class TensorBoardMirror:
    """Writes log entries to `log_dir/run_name(entry)`. `writer_class` is SummaryWriter unless a test
    injects another with its constructor (`log_dir=`) and `add_scalar`, `flush`, `close`."""

    def __init__(self, log_dir: str | Path, run_name: Callable[[dict[str, Any]], str],
                 writer_class: type | None = None):
        self.log_dir = Path(log_dir)
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise UserError(f"--tensorboard '{log_dir}' is a file; give a folder (it is created if missing)")
        self.run_name = run_name
        self.writer_class = writer_class if writer_class is not None else summary_writer_class()
        self.writers: dict[str, Any] = {}
        self.written: set[tuple[str, str, int]] = set()

    def _writer(self, name: str):
        if name not in self.writers:
            folder = self.log_dir / name
            # This process writes the model's whole history from the log: older event files (an
            # interrupted run's) would repeat every epoch in the curve.
            for old in folder.glob("events.out.tfevents.*"):
                old.unlink()
            self.writers[name] = self.writer_class(log_dir=str(folder))
        return self.writers[name]

    def update(self, entries: Iterable[dict[str, Any]]) -> int:
        """Writes what is new in `entries` (a whole log, re-read); returns how many scalars it wrote."""
        touched, count = set(), 0
        for entry in entries:
            name, epoch = self.run_name(entry), int(entry["epoch"])
            for tag, value in scalars(entry).items():
                # a value null in one read of the log (not measured yet) is written when it appears
                if (name, tag, epoch) in self.written:
                    continue
                self._writer(name).add_scalar(tag, value, epoch)
                self.written.add((name, tag, epoch))
                touched.add(name)
                count += 1
        for name in touched:
            self.writers[name].flush()
        return count

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def __enter__(self) -> "TensorBoardMirror":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class NoMirror:
    """What a command without --tensorboard updates: nothing."""

    def update(self, entries: Iterable[dict[str, Any]]) -> int:
        return 0

    def close(self) -> None:
        pass

    def __enter__(self) -> "NoMirror":
        return self

    def __exit__(self, *exc) -> None:
        pass


def tensorboard_mirror(log_dir: str | Path | None, run_name: Callable[[dict[str, Any]], str]
                       ) -> TensorBoardMirror | NoMirror:
    """The mirror `--tensorboard DIR` asks for (None: no option). Made before any training, so a
    missing tensorboard package is said up front, not after an epoch."""
    return NoMirror() if log_dir is None else TensorBoardMirror(log_dir, run_name)
