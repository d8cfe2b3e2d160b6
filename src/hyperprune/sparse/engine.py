"""The dynamic sparse training engine: masks, their updates, and the bookkeeping around them.

Every mask update runs, on the masks as they stand:

1. death rate  r = schedule(cfg.death_rate, t, T): t is training progress in epochs (epoch e ends at
   t = e + 1; an update every k steps falls at a fractional t), T = cfg.decay_epochs or the run's
   epochs;
2. redistribution scores from the current (pre-death) masks and the shared magnitude threshold tau
   as it stands (the death state's "threshold", see `hyperprune.sparse.death`);
3. death: the rule returns the surviving masks (and may move tau); R = total entries removed;
4. regrowth shares: each tensor regrows what it lost (`none`), or R split in proportion to the
   scores, each share at most the tensor's free capacity (`counts.apportion`), so exactly R. A death
   rule that plans no per-tensor count (`threshold`) always shares R out, `none` scoring 1 each;
5. growth: each tensor's share is picked among its entries not kept after death;
6. weights (and optimiser state) of removed entries and of NEW entries are set to exactly 0.0. An
   entry removed and regrown in the same update was never dropped: it keeps its weight (as in RigL
   and sparse_learning).

So the global number of kept entries is `counts.target_nonzeros(sparsity, total)` after `apply()` and
after every update. All randomness comes from the engine's own CPU `torch.Generator`, seeded from
`seed`, saved and restored with `state_dict()`: the same seed gives the same masks on any device,
and a resumed run continues exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from hyperprune.config import from_dict
from hyperprune.errors import UserError
from hyperprune.sparse.any_module import ModuleWeights
from hyperprune.sparse.config import SparseConfig, resolve_sparse_config
from hyperprune.sparse.counts import apportion, target_nonzeros
from hyperprune.sparse.registry import DEATH, GROWTH, INIT, REDISTRIBUTION, SCHEDULE
from hyperprune.sparse.signals import Signals
from hyperprune.sparse.summary import sparsity_summary

# A registry loads its strategy modules on first use, which is not safe across threads (a second
# thread can find it marked loaded but still empty). Load them now, under the import lock, so that
# engines built in Optuna's worker threads (study.optimize(n_jobs=...)) see every strategy.
for _registry in (INIT, DEATH, GROWTH, REDISTRIBUTION, SCHEDULE):
    _registry.names()


def engine_seed(seed: int) -> int:
    """The engine's generator seed: derived from the run seed, so that masks are not drawn from the
    same random stream as the weight initialisation that `torch.manual_seed(seed)` drives."""
    return int.from_bytes(hashlib.sha256(f"hyperprune.sparse:{seed}".encode()).digest()[:8], "little")


class SparseEngine:
    """Owns the masks of `model.sparsifiable()` tensors in the groups `cfg.masked`, and updates them.

    Built one way: `SparseEngine(module, cfg, epochs=, steps_per_epoch=, seed=0, weights=None)`, or
    `sparse_engine(module, sparsity, ...)` below, which only turns its keyword settings into `cfg`.
    `module` is one of our RecurrentLMs (which list their own weights, `sparsifiable()`) or any
    nn.Module, whose weight matrices `ModuleWeights` finds by what they are; `weights=` names them
    instead (a list, or name -> group).

    Training-loop calls, in order::

        engine = SparseEngine.maybe(model, cfg.sparse, epochs=cfg.train.epochs,
                                    steps_per_epoch=len(train_batches), seed=cfg.seed)
        if engine is not None:
            engine.apply()                      # once, before the first step: masks the weights
            # on resume, instead: engine.load_state_dict(checkpoint["sparse"])
        for epoch in range(epochs_done + 1, epochs + 1):     # 1-based, as Trainer counts
            for x, y in train_batches:
                optimizer.zero_grad()
                loss = criterion(model(x, state)[0], y)
                loss.backward()
                if engine is not None:
                    engine.after_backward()     # signals; zeroes pruned gradients if clip_norm_over: kept
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
                if engine is not None:
                    engine.after_step(optimizer)     # re-zero; mask update every k steps
            validate(...)                       # first: the update disturbs the weights (Selfish-RNN
            if engine is not None:              # also validates before it)
                engine.end_of_epoch(epoch, optimizer)  # mask update when update_every == 0
            save({"sparse": engine.state_dict(), ...})   # plus model and optimiser state
        summary = engine.summary()              # counts and FLOPs per token for summary.json

    Build the engine after the model is on its device (masks are made where the weights are). The
    optimiser may change between calls (SGD -> ASGD under NT-ASGD): pass the current one.
    Pruned entries are zeroed in every optimiser state tensor shaped like the parameter (SGD
    `momentum_buffer`, Adam `exp_avg` / `exp_avg_sq`, `SparseASGD`'s `ax` and per-entry `step`, ...)
    after every step, and removed and regrown entries at every update: this is how the optimiser
    learns of regrowth (a zero `step` restarts a regrown weight's average, `hyperprune.train.asgd`).

    Gradient clipping. With `clip_norm_over: all` (default) the pruned entries' gradients stay in
    place, so the clipping norm counts them, as in Selfish-RNN and the released LSH code (train.py:
    85-90: clip over all parameters, step, re-mask); the step moves pruned weights (and their
    optimiser state) off zero and `after_step` puts them back, so only the norm differs. With
    `clip_norm_over: kept`, `after_backward` zeroes them first and the norm is the kept entries'.

    Update timing. `end_of_epoch(n, ...)` is called after the n-th epoch (n = 1, 2, ...: epochs
    completed); `start_epoch` / `stop_epoch` name epochs by their 0-based index e = n - 1. With
    `update_every == 0` the update follows epoch e when start_epoch <= e, e < stop_epoch (if set)
    and n < epochs: no update after the last epoch, whose regrown weights would never be trained.
    With `update_every = k` it follows every k-th optimiser step (counted over the whole run) taken
    during an epoch e with start_epoch <= e < stop_epoch.
    """

    def __init__(self, model: torch.nn.Module, cfg: SparseConfig, *, epochs: int, steps_per_epoch: int,
                 seed: int = 0, weights: Iterable[str] | Mapping[str, str] | None = None):
        self.cfg = resolve_sparse_config(cfg)
        # ours list their own weights; any other module (or a chosen few) is seen through ModuleWeights
        self.model = model if hasattr(model, "sparsifiable") and weights is None else ModuleWeights(model, weights)
        self.epochs = int(epochs)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.seed = int(seed)

        self.groups = {name: group for name, (group, _) in self.model.sparsifiable().items()}
        self.params: dict[str, torch.nn.Parameter] = {}
        if self.cfg.enabled:
            self.params = {name: param for name, (group, param) in self.model.sparsifiable().items()
                           if group in self.cfg.masked}
            if not self.params:
                raise UserError(
                    f"sparse.masked = {self.cfg.masked} selects no weight matrix of this model; "
                    f"its groups are: {', '.join(sorted(set(self.groups.values())))}")
        self.total = sum(p.numel() for p in self.params.values())
        self.target = target_nonzeros(self.cfg.sparsity, self.total)

        self.init_rule = INIT.get(self.cfg.init)
        self.death_rule = DEATH.get(self.cfg.death)
        self.growth_rule = GROWTH.get(self.cfg.growth)
        self.redistribution_rule = REDISTRIBUTION.get(self.cfg.redistribution)
        self.schedule = SCHEDULE.get(self.cfg.death_rate_schedule)

        self.generator = torch.Generator().manual_seed(engine_seed(self.seed))
        needs = set(self.growth_rule.needs) | set(self.redistribution_rule.needs)
        self.signals = Signals(self.params, needs, self.cfg.momentum_decay, self.generator)

        self.masks: dict[str, torch.Tensor] = {}    # name -> bool, True = kept
        # name -> the mask as 1.0/0.0 in the weight's dtype: multiplying by it is ~10x faster on CPU
        # than masked_fill_ with a bool mask, and this runs twice per training step.
        self._keep: dict[str, torch.Tensor] = {}
        self.step = 0                # optimiser steps taken, whole run
        self.epoch = 0               # epochs completed
        self.epoch_start_step = 0    # value of `step` when the current epoch began
        # The death rules' state across updates: "threshold" is the shared magnitude threshold tau.
        self.death_state: dict = {"threshold": self.cfg.threshold_init}
        self.history: list[dict] = []

    @classmethod
    def maybe(cls, model: torch.nn.Module, cfg: SparseConfig, *, epochs: int, steps_per_epoch: int,
              seed: int = 0) -> SparseEngine | None:
        """An engine, or None when `cfg` asks for no sparsity (the trainer then skips every call)."""
        cfg = resolve_sparse_config(cfg)
        return cls(model, cfg, epochs=epochs, steps_per_epoch=steps_per_epoch, seed=seed) if cfg.enabled else None

    # ---------------------------------------------------------------- masks

    def initial_counts(self) -> dict[str, int]:
        """Kept entries per tensor after `apply()`: the init rule's densities, capped at 1, scaled
        so the counts add up to the target exactly (largest remainders, `counts.apportion`)."""
        weights = {n: p.numel() * self.init_rule.fn(tuple(p.shape)) for n, p in self.params.items()}
        return apportion(self.target, weights, {n: p.numel() for n, p in self.params.items()})

    def apply(self) -> None:
        """Draw the initial masks (uniformly random positions, the init rule's counts); zero the rest."""
        masks = {}
        for name, count in self.initial_counts().items():
            param = self.params[name]
            chosen = torch.randperm(param.numel(), generator=self.generator)[:count]
            mask = torch.zeros(param.numel(), dtype=torch.bool)
            mask[chosen] = True
            masks[name] = mask.view(param.shape).to(param.device)
        self._set_masks(masks)
        self._zero(None)

    def _set_masks(self, masks: dict[str, torch.Tensor]) -> None:
        self.masks = masks
        self._keep = {n: m.to(self.params[n].dtype) for n, m in masks.items()}

    @torch.no_grad()
    def _zero(self, optimizer: torch.optim.Optimizer | None,
              keep_where: dict[str, torch.Tensor] | None = None) -> None:
        """Set weights and param-shaped optimiser state to 0.0 wherever `keep_where` (default: the
        masks, as 1.0/0.0 multipliers) is 0."""
        for name, param in self.params.items():
            keep = self._keep[name] if keep_where is None else keep_where[name]
            param.mul_(keep)
            if optimizer is None:
                continue
            for value in optimizer.state.get(param, {}).values():
                if torch.is_tensor(value) and value.shape == param.shape and value.is_floating_point():
                    value.mul_(keep if value.dtype == keep.dtype else keep.to(value.dtype))

    # ---------------------------------------------------------------- training-loop hooks

    @torch.no_grad()
    def after_backward(self) -> None:
        """After backward, before clipping: record the signals growth needs from the dense gradient;
        with `clip_norm_over: kept`, then zero the gradient of pruned entries."""
        if not self._active():
            return
        k = self.cfg.update_every
        self.signals.record(gradient=k == 0 or (self.step + 1) % k == 0)
        if self.cfg.clip_norm_over == "kept":
            for name, param in self.params.items():
                if param.grad is not None:
                    param.grad.mul_(self._keep[name])

    def after_step(self, optimizer: torch.optim.Optimizer | None) -> dict | None:
        """After the optimiser step: re-zero pruned weights and their optimiser state; when
        `update_every = k > 0`, update the masks every k-th step. Returns the update's record, if any."""
        if not self._active():
            return None
        self._zero(optimizer)
        self.step += 1
        k = self.cfg.update_every
        if k > 0 and self.step % k == 0 and self._may_update(self.epoch):
            within = min(self.step - self.epoch_start_step, self.steps_per_epoch) / self.steps_per_epoch
            return self.update(self.epoch + within, optimizer)
        return None

    def end_of_epoch(self, epoch: int, optimizer: torch.optim.Optimizer | None,
                     update: bool = True) -> dict | None:
        """After the `epoch`-th epoch ends (counting from 1: the epochs completed so far, as
        `Trainer` counts them): update the masks when `update_every == 0` (and `update`: the
        trainer passes False in the epoch NT-ASGD switches, as the released code skips it)."""
        if not self._active():
            return None
        self.epoch = int(epoch)
        self.epoch_start_step = self.step
        index = self.epoch - 1          # start_epoch / stop_epoch count epochs from 0
        if (update and self.cfg.update_every == 0 and self._may_update(index)
                and self.epoch < self.epochs):
            return self.update(float(self.epoch), optimizer)
        return None

    def _active(self) -> bool:
        if not self.params:
            return False     # sparsity 0: a no-op engine
        if not self.masks:
            raise RuntimeError("SparseEngine: call apply() (or load_state_dict()) before training")
        return True

    def _may_update(self, epoch: int) -> bool:
        stop = self.cfg.stop_epoch
        return self.cfg.start_epoch <= epoch and (stop is None or epoch < stop)

    def death_rate(self, progress: float) -> float:
        """The scheduled death rate at `progress` epochs of training."""
        horizon = self.cfg.decay_epochs if self.cfg.decay_epochs is not None else self.epochs
        return self.schedule.fn(self.cfg.death_rate, progress, horizon, self.cfg.death_rate_floor)

    # ---------------------------------------------------------------- the update

    @torch.no_grad()
    def update(self, progress: float, optimizer: torch.optim.Optimizer | None) -> dict:
        """One prune-and-regrow update at `progress` epochs of training (see the module docstring)."""
        rate = self.death_rate(progress)
        weights = {n: p.detach() for n, p in self.params.items()}
        old = self.masks
        threshold = self.death_state["threshold"]
        scores = self.redistribution_rule.fn(weights, old, signals=self.signals, threshold=threshold)
        survivors = self.death_rule.fn(weights, old, rate, state=self.death_state, cfg=self.cfg)
        if scores is None and self.death_rule.shares_regrowth:
            scores = {n: 1.0 for n in old}

        kept_after_death = {n: int(survivors[n].sum()) for n in old}
        removed = {n: int(old[n].sum()) - kept_after_death[n] for n in old}
        for n in old:
            if removed[n] < 0 or bool((survivors[n] & ~old[n]).any()):
                raise RuntimeError(f"death rule '{self.cfg.death}' added entries to '{n}'")
        total_removed = sum(removed.values())
        if scores is None:
            regrow = dict(removed)
        else:
            free = {n: old[n].numel() - kept_after_death[n] for n in old}
            regrow = apportion(total_removed, scores, free)

        new = {}
        for n in old:
            grown = torch.zeros_like(old[n])
            if regrow[n] > 0:
                candidates = ~survivors[n]
                grown = self.growth_rule.fn(candidates, regrow[n], name=n, signals=self.signals)
                if int(grown.sum()) != regrow[n] or bool((grown & ~candidates).any()):
                    raise RuntimeError(f"growth rule '{self.cfg.growth}' did not grow {regrow[n]} "
                                       f"free entries of '{n}'")
            new[n] = survivors[n] | grown

        # Zero the removed and the newly grown entries; survivors keep their values.
        self._zero(optimizer, {n: (new[n] & old[n]).to(self.params[n].dtype) for n in old})
        self._set_masks(new)
        record = {
            "step": self.step, "epoch": self.epoch, "progress": float(progress), "death_rate": rate,
            "threshold": threshold, "removed": total_removed,
            "regrown_new": sum(int((new[n] & ~old[n]).sum()) for n in old),
            "nonzero": sum(int(m.sum()) for m in new.values()),
        }
        self.history.append(record)
        return record

    # ---------------------------------------------------------------- state and reports

    def state_dict(self) -> dict:
        return {
            "masks": {n: m.detach().cpu().clone() for n, m in self.masks.items()},
            "step": self.step,
            "epoch": self.epoch,
            "epoch_start_step": self.epoch_start_step,
            "generator": self.generator.get_state(),
            "death_state": _to_cpu(self.death_state),
            "signals": self.signals.state_dict(),
            "history": [dict(r) for r in self.history],
            "target": self.target,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore masks, counters, schedule position and generator; re-zero the pruned weights."""
        masks = state["masks"]
        if set(masks) != set(self.params):
            raise UserError(
                f"sparse checkpoint masks {sorted(masks)} do not match this model's masked tensors "
                f"{sorted(self.params)}; allowed: a checkpoint of the same model and sparse.masked")
        for name, mask in masks.items():
            if tuple(mask.shape) != tuple(self.params[name].shape):
                raise UserError(
                    f"sparse checkpoint mask '{name}' has shape {tuple(mask.shape)}, the model's "
                    f"tensor {tuple(self.params[name].shape)}; allowed: a checkpoint of the same model")
        self._set_masks({n: m.to(device=self.params[n].device, dtype=torch.bool).clone()
                         for n, m in masks.items()})
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.epoch_start_step = int(state["epoch_start_step"])
        self.generator.set_state(state["generator"])
        death_state = _to_cpu(state["death_state"])
        if isinstance(death_state.get("threshold"), dict):
            # Checkpoints from before the shared tau kept one per tensor; tau restarts.
            death_state.pop("threshold")
        self.death_state = {"threshold": self.cfg.threshold_init, **death_state}
        self.signals.load_state_dict(state["signals"])
        self.history = [dict(r) for r in state["history"]]
        self._zero(None)

    def summary(self) -> dict:
        """Per-tensor {group, shape, total, nonzero, density}, totals, FLOPs per token dense vs
        sparse (convention in `hyperprune.sparse.summary`), the target and the updates made."""
        out = sparsity_summary(self.model, self.masks)
        out["target_nonzero"] = self.target
        out["mask_updates"] = len(self.history)
        return out


def _to_cpu(value):
    if torch.is_tensor(value):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


def sparse_engine(module: torch.nn.Module, sparsity: float, *, epochs: int, steps_per_epoch: int, seed: int = 0,
                  weights: Iterable[str] | Mapping[str, str] | None = None, **settings: Any) -> SparseEngine:
    """A SparseEngine for `module` (any nn.Module, or one of our RecurrentLMs) at global `sparsity`.

    settings: any SparseConfig field (preset, init, death, growth, redistribution, death_rate,
    death_rate_schedule, update_every, masked, ...), checked with a one-line error naming the
    closest valid one. weights: names of the parameters to consider (or name -> group), instead of
    every weight matrix. The engine's calls are the trainer's: `apply()` once, `after_backward()`,
    `after_step(optimizer)` every step, `end_of_epoch(epoch, optimizer)` (epoch counted from 1).

        engine = sparse_engine(model, 0.67, epochs=10, steps_per_epoch=len(batches), death="SET-signed")
    """
    cfg = from_dict(SparseConfig, {"sparsity": sparsity, **settings}, "sparse")
    return SparseEngine(module, cfg, epochs=epochs, steps_per_epoch=steps_per_epoch, seed=seed, weights=weights)
