"""The training loop: truncated BPTT over a batchified corpus, resumable to the exact same numbers.

Shape of the loop is pytorch/examples' word_language_model; on top of it: gradient clipping,
learning-rate decay or NT-ASGD, optional dynamic sparsity, and a checkpoint after every epoch
that holds everything needed to continue bit-for-bit (weights, optimiser with its averages,
learning rate, epoch, step, sparse masks and every random generator).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from hyperprune.config import from_dict, to_dict
from hyperprune.errors import UserError
from hyperprune.data import Corpus, batchify, get_batch, load_corpus
from hyperprune.models import build_model, detach_state, resolve_model_config
from hyperprune.sparse import PRESET_TRAIN_OVERRIDES, SparseEngine, resolve_sparse_config, sparsity_summary
from hyperprune.train import asgd
from hyperprune.perplexity import perplexity
from hyperprune.run_files import save_summary
from hyperprune.train.checkpoint import load_latest, load_weights, read_checkpoint, save_checkpoint
from hyperprune.train.config import RunConfig, TrainConfig
from hyperprune.train.device import resolve_device
from hyperprune.train.resume import check_resume
from hyperprune.train.epoch_log import write_epoch_log
from hyperprune.train.progress import TrainingConsole

# 2: plain types only (numpy's random state as a tensor and numbers) and the vocabulary.
CHECKPOINT_FORMAT = 2


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the run cannot continue."""


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    valid_loss: float
    lr: float
    averaged: bool            # NT-ASGD had switched to averaging by the end of this epoch
    wall_s: float             # the training pass alone
    tokens_per_s: float
    mask_update_s: float = 0.0  # the sparse engine's end-of-epoch prune and regrow

    @property
    def valid_ppl(self) -> float:
        return perplexity(self.valid_loss)


def resolve_run_config(cfg: RunConfig) -> RunConfig:
    """Fill preset values into model and sparse settings (the sparse preset may pick the optimiser)."""
    sparse = resolve_sparse_config(cfg.sparse)
    train = cfg.train
    if sparse.enabled and sparse.preset in PRESET_TRAIN_OVERRIDES:
        # Like the sparse preset itself: a recipe field the user left at its default takes the
        # method's value (Selfish-RNN comes with NT-ASGD).
        defaults = TrainConfig()
        changes = {key: value for key, value in PRESET_TRAIN_OVERRIDES[sparse.preset].items()
                   if getattr(train, key) == getattr(defaults, key)}
        train = dataclasses.replace(train, **changes)
    return RunConfig(data=cfg.data, model=resolve_model_config(cfg.model), train=train, sparse=sparse,
                     seed=cfg.seed, device=cfg.device, run_dir=cfg.run_dir)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    """Every generator's state, as plain types (a checkpoint must load with weights_only=True)."""
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    saved = state["numpy"]
    if isinstance(saved, dict):
        saved = ("MT19937", saved["keys"].numpy().astype(np.uint32), saved["pos"], saved["has_gauss"],
                 saved["cached_gaussian"])
    np.random.set_state(saved)                # format 1 stored numpy's own tuple
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Train one run directory's model; re-creating a Trainer on the same directory resumes it.

    >>> trainer = Trainer(cfg, "runs/lstm-small")       # doctest: +SKIP
    >>> trainer.train(until_epoch=3)                     # doctest: +SKIP
    >>> trainer.evaluate("valid")                        # doctest: +SKIP
    """

    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, *,
                 device: torch.device | str | None = None, corpus: Corpus | None = None,
                 verbose: bool = True, progress: bool | str | None = None, progress_every: float = 0.1):
        self.cfg = resolve_run_config(cfg)
        self.run_dir = Path(run_dir if run_dir is not None else self.cfg.run_dir)
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.device = device if isinstance(device, torch.device) else resolve_device(device or self.cfg.device)
        self.verbose = verbose
        self.console = TrainingConsole(verbose=verbose, progress=progress, every=progress_every)

        train_cfg = self.cfg.train
        seed_everything(self.cfg.seed)
        self.corpus = corpus if corpus is not None else load_corpus(self.cfg.data)
        self.vocab_size = len(self.corpus.vocab)
        self.train_data = batchify(self.corpus.train, train_cfg.batch_size).to(self.device)   # (N, B)
        self.valid_data = batchify(self.corpus.valid, train_cfg.eval_batch_size).to(self.device)
        self.test_data = batchify(self.corpus.test, train_cfg.test_batch).to(self.device)
        self.steps_per_epoch = math.ceil((self.train_data.size(0) - 1) / train_cfg.bptt)

        self.model = build_model(self.cfg.model, self.vocab_size).to(self.device)
        self.optimizer = self._make_sgd(train_cfg.lr)
        self.sparse = SparseEngine.maybe(self.model, self.cfg.sparse, epochs=train_cfg.epochs,
                                         steps_per_epoch=self.steps_per_epoch, seed=self.cfg.seed)
        self.batch_generator = torch.Generator().manual_seed(self.cfg.seed)  # variable-BPTT lengths
        self.epoch = 0
        self.step = 0
        self.lr = train_cfg.lr
        self.averaging = False
        self.val_losses: list[float] = []
        self.history: list[EpochRecord] = []
        self.train_wall_s = 0.0

        payload = load_latest(self.checkpoint_dir, map_location=self.device)
        if payload is not None:
            check_resume(payload["config"], self.cfg, self.run_dir)
            self._restore(payload)
        elif self.sparse is not None:
            self.sparse.apply()

    # -- optimisers ---------------------------------------------------------------------------

    def _make_sgd(self, lr: float) -> torch.optim.Optimizer:
        t = self.cfg.train
        return torch.optim.SGD(self.model.parameters(), lr=lr, momentum=t.momentum,
                               weight_decay=t.weight_decay)

    def _lr_for_epoch(self, epoch: int) -> float:
        """Learning rate of 1-based `epoch`: constant, then decayed once per epoch (Zaremba et al.)."""
        t = self.cfg.train
        if t.decay_after is None:
            return self.lr
        return t.lr * t.lr_decay ** max(epoch - t.decay_after, 0)

    # -- the loop ----------------------------------------------------------------------------

    def train(self, until_epoch: int | None = None,
              on_epoch: Callable[["Trainer", EpochRecord], None] | None = None,
              before_mask_update: Callable[["Trainer", int], None] | None = None) -> list[EpochRecord]:
        """Train until `until_epoch` (default: the recipe's epochs), checkpointing each epoch.

        `on_epoch(trainer, record)` runs after the epoch is complete and checkpointed.
        `before_mask_update(trainer, epoch)` runs after validation and before the sparse engine's
        end-of-epoch prune/regrow: the model state the paper's code saves and measures.
        """
        target = self.cfg.train.epochs if until_epoch is None else until_epoch
        while self.epoch < target:
            record = self.train_epoch(before_mask_update=before_mask_update)
            if on_epoch is not None:
                on_epoch(self, record)
        return self.history

    def train_epoch(self, before_mask_update: Callable[["Trainer", int], None] | None = None) -> EpochRecord:
        t = self.cfg.train
        epoch = self.epoch + 1
        if not self.averaging:
            self.lr = self._lr_for_epoch(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr

        self.model.train()
        start = time.perf_counter()
        state = self.model.init_state(t.batch_size)
        total_loss = torch.zeros((), device=self.device)
        total_tokens = 0
        params = [p for p in self.model.parameters() if p.requires_grad]
        progress = self.console.epoch_progress(epoch, self.steps_per_epoch)
        positions = self.train_data.size(0) - 1
        i = 0
        while i < self.train_data.size(0) - 1:
            bptt = self._sequence_length() if t.variable_bptt else t.bptt
            x, y = get_batch(self.train_data, i, bptt)              # (T, B), (T, B)
            state = detach_state(state)
            logits, state = self.model(x, state)                    # (T, B, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            self.optimizer.zero_grad(set_to_none=True)
            (loss + self.model.penalty()).backward()
            if self.sparse is not None:
                self.sparse.after_backward()    # pruned gradients count in the clip norm unless clip_norm_over: kept
            if t.clip > 0:
                torch.nn.utils.clip_grad_norm_(params, t.clip)
            if t.variable_bptt:
                # AWD-LSTM scales the step with the sequence length so long sequences don't dominate.
                for group in self.optimizer.param_groups:
                    group["lr"] = self.lr * x.size(0) / t.bptt
            self.optimizer.step()
            if self.sparse is not None:
                self.sparse.after_step(self.optimizer)
            n = y.numel()
            total_loss += loss.detach() * n
            total_tokens += n
            self.step += 1
            i += x.size(0)
            # Checked every 50 steps, not every step: reading the loss forces a GPU sync.
            if self.step % 50 == 0 and not torch.isfinite(total_loss):
                raise TrainingDiverged(f"training loss became {total_loss.item()} at epoch {epoch}, "
                                       f"step {self.step}")
            progress.update(i / positions, total_tokens, lambda: total_loss.item() / total_tokens)
        progress.close()
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        train_loss = total_loss.item() / max(total_tokens, 1)
        if not math.isfinite(train_loss):
            raise TrainingDiverged(f"training loss became {train_loss} at epoch {epoch}")
        train_s = time.perf_counter() - start

        valid_loss = self.evaluate_loss("valid")
        self.val_losses.append(valid_loss)
        switched = (t.optimizer == "nt-asgd" and not self.averaging
                    and asgd.should_switch(self.val_losses, t.nonmono))
        if switched:
            self.averaging = True
            self.optimizer = asgd.make_asgd(self.model.parameters(), self.lr, t.weight_decay)
            self.console.averaging_started(epoch, t.nonmono)

        if before_mask_update is not None:
            # The released LSH code saves the epoch's model before `mask.at_end_of_epoch` and measures
            # that file; a hook here sees the same state without a second checkpoint.
            before_mask_update(self, epoch)

        if self.sparse is not None:
            # After validation, as Selfish-RNN does: validation (and NT-ASGD's trigger) sees the
            # weights just trained, not the freshly pruned and regrown ones.
            # In the epoch NT-ASGD switches, the released code skips the update: its test
            # `'t0' not in optimizer.param_groups[0]` (train.py:192) already sees the new optimiser.
            mask_start = time.perf_counter()
            self.sparse.end_of_epoch(epoch, self.optimizer, update=not switched)
            mask_update_s = time.perf_counter() - mask_start
        else:
            mask_update_s = 0.0

        self.epoch = epoch
        self.train_wall_s += train_s
        record = EpochRecord(epoch=epoch, train_loss=train_loss, valid_loss=valid_loss, lr=self.lr,
                             averaged=self.averaging, wall_s=train_s, tokens_per_s=total_tokens / train_s,
                             mask_update_s=mask_update_s)
        self.history.append(record)
        self.save()
        write_epoch_log(self.run_dir, self.history)
        self.console.epoch_done(record)
        return record

    def _sequence_length(self) -> int:
        """AWD-LSTM's variable BPTT: mostly bptt, sometimes half, jittered by a normal draw."""
        t = self.cfg.train
        base = t.bptt if torch.rand((), generator=self.batch_generator).item() < 0.95 else t.bptt / 2
        length = int(base + 5 * torch.randn((), generator=self.batch_generator).item())
        return max(5, min(length, t.bptt + 20))

    # -- evaluation --------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate_loss(self, split: str) -> float:
        """Mean cross-entropy (nats/token) over a whole split, with NT-ASGD's averages if active."""
        data = {"valid": self.valid_data, "test": self.test_data, "train": self.train_data}[split]
        return evaluate_loss(self.model, data, self.cfg.train.bptt, self.optimizer)

    def evaluate(self, split: str = "valid") -> float:
        """Perplexity over a whole split (inf, with a warning, for a diverged model)."""
        return perplexity(self.evaluate_loss(split), split)

    def evaluation_weights(self):
        """Context manager: the weights evaluation uses (ASGD averages once averaging started)."""
        return asgd.averaged_weights(self.optimizer)

    # -- checkpoints -------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": to_dict(self.cfg),
            "vocab_size": self.vocab_size,
            "vocab": list(self.corpus.vocab.itos),        # so the model is usable without the corpus
            "epoch": self.epoch,
            "step": self.step,
            "lr": self.lr,
            "averaging": self.averaging,
            "val_losses": list(self.val_losses),
            "history": [vars(r).copy() for r in self.history],
            "train_wall_s": self.train_wall_s,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sparse": self.sparse.state_dict() if self.sparse is not None else None,
            "batch_generator": self.batch_generator.get_state(),
            "rng": _rng_state(),
        }

    def save(self) -> Path:
        return save_checkpoint(self.checkpoint_dir, self.epoch, self.state_dict())

    def _restore(self, payload: dict[str, Any]) -> None:
        load_weights(self.model, payload["model"], self.checkpoint_dir)
        self.epoch = payload["epoch"]
        self.step = payload["step"]
        self.lr = payload["lr"]
        self.averaging = payload["averaging"]
        self.val_losses = list(payload["val_losses"])
        self.history = [EpochRecord(**r) for r in payload["history"]]
        self.train_wall_s = payload.get("train_wall_s", 0.0)
        if self.averaging:
            self.optimizer = asgd.make_asgd(self.model.parameters(), self.lr, self.cfg.train.weight_decay)
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.sparse is not None and payload.get("sparse") is not None:
            self.sparse.load_state_dict(payload["sparse"])
        self.batch_generator.set_state(payload["batch_generator"])
        _set_rng_state(payload["rng"])

    def evaluation_payload(self, epoch: int) -> dict[str, Any]:
        """The model as evaluated now (ASGD averages once averaging started), as a checkpoint that
        `load_trained` and `hyperprune evaluate` read, with the masks it was trained under: the state the
        released LSH code saves when validation improves (train.py:153-158, :178-183). Not resumable:
        no optimiser, no generators.
        `epoch` is the epoch whose validation just ran (the trainer counts it done only after the
        epoch's mask update)."""
        with self.evaluation_weights():
            weights = {name: value.detach().cpu().clone() for name, value in self.model.state_dict().items()}
        return {"format": CHECKPOINT_FORMAT, "config": to_dict(self.cfg), "vocab_size": self.vocab_size,
                "vocab": list(self.corpus.vocab.itos), "evaluation_state": True,
                "epoch": epoch, "lr": self.lr, "averaging": False, "averaged_weights": self.averaging,
                "val_losses": list(self.val_losses[:epoch]), "model": weights,
                "sparse": self.sparse.state_dict() if self.sparse is not None else None}

    # -- reporting ---------------------------------------------------------------------------

    def parameter_counts(self) -> tuple[int, int]:
        """(total, nonzero) over all parameters, as evaluated (ASGD averages if active)."""
        with self.evaluation_weights():
            total = sum(p.numel() for p in self.model.parameters())
            nonzero = sum(int(torch.count_nonzero(p)) for p in self.model.parameters())
        return total, nonzero


@torch.no_grad()
def evaluate_loss(model, data: torch.Tensor, bptt: int, optimizer=None) -> float:
    """Mean cross-entropy (nats/token) of `model` over batchified `data` (N, B)."""
    was_training = model.training
    model.eval()
    total, tokens = torch.zeros((), device=data.device, dtype=torch.float64), 0
    with asgd.averaged_weights(optimizer) if optimizer is not None else contextlib.nullcontext():
        state = model.init_state(data.size(1))
        for i in range(0, data.size(0) - 1, bptt):
            x, y = get_batch(data, i, bptt)
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1),
                                     reduction="sum").double()
            tokens += y.numel()
    model.train(was_training)
    return total.item() / max(tokens, 1)


def evaluate_model(cfg: RunConfig, model, corpus: Corpus, device) -> dict[str, Any]:
    """Validation and test loss (nats/token) and parameter counts of `model` as it is, with the
    batches `cfg` evaluates at: the numbers a search reports for a model's final state and the ones
    `hyperprune evaluate` prints for it are this one computation."""
    out: dict[str, Any] = {}
    for split, batch in (("valid", cfg.train.eval_batch_size), ("test", cfg.train.test_batch)):
        data = batchify(getattr(corpus, split), batch).to(device)             # (N, B)
        out[f"{split}_loss"] = evaluate_loss(model, data, cfg.train.bptt)
    out["params_total"] = sum(p.numel() for p in model.parameters())
    out["params_nonzero"] = sum(int(torch.count_nonzero(p)) for p in model.parameters())
    return out


def write_summary(trainer: Trainer, wall_s: float) -> dict[str, Any]:
    """Final numbers of a run, written to RUN_DIR/summary.json."""
    total, nonzero = trainer.parameter_counts()
    summary = {
        "valid_ppl": trainer.evaluate("valid"),
        "test_ppl": trainer.evaluate("test"),
        "epochs": trainer.epoch,
        "params_total": total,
        "params_nonzero": nonzero,
        "wall_s": wall_s,
        "train_wall_s": trainer.train_wall_s,
        "device": str(trainer.device),
        "history": [dict(vars(r), valid_ppl=r.valid_ppl) for r in trainer.history],
        # Per-tensor total/nonzero counts and FLOPs per token, dense runs included.
        "sparse": trainer.sparse.summary() if trainer.sparse is not None else sparsity_summary(trainer.model),
    }
    save_summary(trainer.run_dir, summary)
    return summary


def load_trained(path: str | Path, device: torch.device | str = "cpu", averaged: bool = True):
    """(config, model in eval mode, payload) from a checkpoint file or a run directory.

    With NT-ASGD active the model gets the averaged weights, as used for evaluation.
    """
    path = Path(path)
    if path.is_dir():
        directory = path / "checkpoints" if (path / "checkpoints").is_dir() else path
        payload = load_latest(directory, map_location=device)
        if payload is None:
            raise UserError(f"no checkpoint found in '{path}'; train first or name a .pt file")
    else:
        payload = read_checkpoint(path, map_location=device)
    cfg = from_dict(RunConfig, payload["config"])
    model = build_model(cfg.model, payload["vocab_size"]).to(device)
    load_weights(model, payload["model"], path)
    if averaged and payload.get("averaging"):
        optimizer = asgd.make_asgd(model.parameters(), payload["lr"], cfg.train.weight_decay)
        optimizer.load_state_dict(payload["optimizer"])
        asgd.use_averages(optimizer)
    model.eval()
    return cfg, model, payload
