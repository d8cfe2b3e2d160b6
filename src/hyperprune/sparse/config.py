"""Knobs of dynamic sparse training. Strategy names map to registered functions."""

from __future__ import annotations

from dataclasses import dataclass, field

from hyperprune.config import check_choice, check_range


@dataclass
class SparseConfig:
    sparsity: float = 0.0              # global fraction of zeros over the masked tensors; 0: dense
    preset: str | None = None          # selfish-rnn | set | rigl | snfs: fills the fields below
    init: str = "uniform"              # uniform | ER | ERK
    death: str = "magnitude"           # magnitude | SET | SET-signed | threshold | global_magnitude
    growth: str = "random"             # random | gradient | momentum
    redistribution: str = "none"       # none | magnitude | nonzeros | momentum
    death_rate: float = 0.5            # fraction of each tensor's nonzeros removed at an update
    death_rate_schedule: str = "cosine"  # constant | cosine | linear
    decay_epochs: int | None = None    # horizon of the death-rate decay; None: the whole run
    update_every: int = 0              # 0: at the end of every epoch; k > 0: every k steps
    start_epoch: int = 0               # no mask updates before this epoch
    stop_epoch: int | None = None      # no mask updates from this epoch on; None: never stop
    masked: list[str] = field(default_factory=lambda: ["embedding", "recurrent", "decoder"])
    threshold_tolerance: float = 0.02  # death "threshold": accepted |removed - expected| / expected
    momentum_decay: float = 0.9        # growth/redistribution "momentum": M = b*M + (1-b)*grad

    @property
    def enabled(self) -> bool:
        return self.sparsity > 0.0

    def validate(self) -> None:
        # Imported here: the registries import this module's package.
        from hyperprune.sparse.presets import PRESETS
        from hyperprune.sparse.registry import (
            DEATH,
            GROWTH,
            INIT,
            REDISTRIBUTION,
            SCHEDULE,
        )

        check_range("sparse.sparsity", self.sparsity, 0.0, 1.0, high_open=True)
        if self.preset is not None:
            check_choice("sparse.preset", self.preset, PRESETS)
        check_choice("sparse.init", self.init, INIT.names())
        check_choice("sparse.death", self.death, DEATH.names())
        check_choice("sparse.growth", self.growth, GROWTH.names())
        check_choice("sparse.redistribution", self.redistribution, REDISTRIBUTION.names())
        check_range("sparse.death_rate", self.death_rate, 0.0, 1.0)
        check_choice("sparse.death_rate_schedule", self.death_rate_schedule, SCHEDULE.names())
        if self.decay_epochs is not None:
            check_range("sparse.decay_epochs", self.decay_epochs, 1)
        check_range("sparse.update_every", self.update_every, 0)
        check_range("sparse.start_epoch", self.start_epoch, 0)
        if self.stop_epoch is not None:
            check_range("sparse.stop_epoch", self.stop_epoch, 0)
        for group in self.masked:
            check_choice("sparse.masked entry", group, ["embedding", "recurrent", "decoder"])
        check_range("sparse.threshold_tolerance", self.threshold_tolerance, 0.0)
        check_range("sparse.momentum_decay", self.momentum_decay, 0.0, 1.0, high_open=True)
