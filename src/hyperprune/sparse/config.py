"""Knobs of dynamic sparse training, and the published methods (presets) that fill them.

Strategy names map to registered functions (`hyperprune.sparse.registry`). `resolve_sparse_config(cfg)`
applies `cfg.preset`: a preset value replaces a field only while that field still holds its
dataclass default, so anything the user set to another value wins. (A user value equal to the
default cannot be told apart from "not set" and is overridden by the preset.) The preset never sets
`sparsity`. `PRESET_TRAIN_OVERRIDES` lists the training-recipe settings (`TrainConfig` fields) a
method comes with; the trainer applies them the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hyperprune.config import check_choice, check_range

PRESETS: dict[str, dict] = {
    # Liu et al. 2021, "Selfish Sparse RNN Training" (ICML): uniform init, magnitude death, random
    # growth, no redistribution, cosine death rate, an update after every epoch, trained with
    # SNT-ASGD. Their code's default death rate is 0.5 (RHN, ON-LSTM); the stacked-LSTM run used 0.8.
    "selfish-rnn": {
        "init": "uniform", "death": "magnitude", "growth": "random", "redistribution": "none",
        "death_rate": 0.5, "death_rate_schedule": "cosine", "update_every": 0,
    },
    # Mocanu et al. 2018, SET: Erdos-Renyi init, remove the fraction zeta = 0.3 closest to zero,
    # regrow at random, after every epoch, constant rate.
    "set": {
        "init": "ER", "death": "SET", "growth": "random", "redistribution": "none",
        "death_rate": 0.3, "death_rate_schedule": "constant", "update_every": 0,
    },
    # Evci et al. 2020, RigL: ERK init, drop by magnitude, grow by |gradient|, alpha = 0.3 with cosine
    # decay to 0, every Delta T = 100 steps. RigL also stops updating at 75% of training: set
    # stop_epoch (and decay_epochs) to 3/4 of the epochs to match it.
    "rigl": {
        "init": "ERK", "death": "magnitude", "growth": "gradient", "redistribution": "none",
        "death_rate": 0.3, "death_rate_schedule": "cosine", "death_rate_floor": 0.0, "update_every": 100,
    },
    # Dettmers & Zettlemoyer 2019, Sparse Networks From Scratch (sparse momentum): magnitude death,
    # momentum growth and momentum redistribution, prune rate 0.5 with cosine decay, every epoch.
    "snfs": {
        "init": "uniform", "death": "magnitude", "growth": "momentum", "redistribution": "momentum",
        "death_rate": 0.5, "death_rate_schedule": "cosine", "update_every": 0,
    },
}

# TrainConfig settings that come with a preset (the trainer applies them to fields at their default).
PRESET_TRAIN_OVERRIDES: dict[str, dict] = {
    "selfish-rnn": {"optimizer": "nt-asgd"},
}


@dataclass
class SparseConfig:
    sparsity: float = 0.0              # global fraction of zeros over the masked tensors; 0: dense
    preset: str | None = None          # selfish-rnn | set | rigl | snfs: fills the fields below
    init: str = "uniform"              # uniform | ER | ERK
    death: str = "magnitude"           # magnitude | SET | SET-signed | threshold | global_magnitude
    growth: str = "random"             # random | gradient | momentum
    redistribution: str = "none"       # none | magnitude | nonzeros | momentum
    death_rate: float = 0.5            # fraction of each tensor's nonzeros removed at an update
                                       # (threshold death: the count tau is steered towards)
    death_rate_schedule: str = "cosine"  # constant | cosine | linear
    death_rate_floor: float = 0.005    # cosine/linear decay to this (Selfish-RNN's CosineDecay eta_min)
    decay_epochs: int | None = None    # horizon of the death-rate decay; None: the whole run
    update_every: int = 0              # 0: at the end of every epoch; k > 0: every k steps
    start_epoch: int = 0               # no mask updates before this epoch
    stop_epoch: int | None = None      # no mask updates from this epoch on; None: never stop
    masked: list[str] = field(default_factory=lambda: ["embedding", "recurrent", "decoder"])
    # Gradient clipping norm over `all` entries, pruned ones included (Selfish-RNN, the LSH code),
    # or over `kept` entries only (pruned gradients zeroed first: the clip threshold then bounds the
    # step the sparse model actually takes, whatever the sparsity). See SparseEngine.after_backward.
    clip_norm_over: str = "all"
    threshold_init: float = 1e-3       # the shared magnitude threshold tau at the first update
    threshold_tolerance: float = 0.02  # death "threshold": tau is kept while |removed/expected - 1| <= this
    momentum_decay: float = 0.9        # growth/redistribution "momentum": M = b*M + (1-b)*grad

    @property
    def enabled(self) -> bool:
        return self.sparsity > 0.0

    def validate(self) -> None:
        # Imported here: the registries load the strategy modules, which import the package.
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
        check_range("sparse.death_rate_floor", self.death_rate_floor, 0.0, 1.0)
        if self.decay_epochs is not None:
            check_range("sparse.decay_epochs", self.decay_epochs, 1)
        check_range("sparse.update_every", self.update_every, 0)
        check_range("sparse.start_epoch", self.start_epoch, 0)
        if self.stop_epoch is not None:
            check_range("sparse.stop_epoch", self.stop_epoch, 0)
        for group in self.masked:
            check_choice("sparse.masked entry", group, ["embedding", "recurrent", "decoder"])
        check_choice("sparse.clip_norm_over", self.clip_norm_over, ["all", "kept"])
        check_range("sparse.threshold_init", self.threshold_init, 0.0, low_open=True)
        check_range("sparse.threshold_tolerance", self.threshold_tolerance, 0.0)
        check_range("sparse.momentum_decay", self.momentum_decay, 0.0, 1.0, high_open=True)


def resolve_sparse_config(cfg: SparseConfig) -> SparseConfig:
    """A validated copy of `cfg` with its preset applied to every field still at its default."""
    if cfg.preset is not None:
        check_choice("sparse.preset", cfg.preset, PRESETS)
        defaults = SparseConfig()
        changes = {key: value for key, value in PRESETS[cfg.preset].items()
                   if getattr(cfg, key) == getattr(defaults, key)}
        cfg = dataclasses.replace(cfg, **changes)
    else:
        cfg = dataclasses.replace(cfg)
    cfg.masked = list(cfg.masked)
    cfg.validate()
    return cfg
