"""Published dynamic sparse training methods as `SparseConfig` settings.

`resolve_sparse_config(cfg)` applies `cfg.preset`: a preset value replaces a field only while that
field still holds its dataclass default, so anything the user set to another value wins. (A user
value equal to the default cannot be told apart from "not set" and is overridden by the preset.)
The preset never sets `sparsity`. `PRESET_TRAIN_OVERRIDES` lists the training-recipe settings
(`TrainConfig` fields) a method comes with; the trainer applies them the same way.
"""

from __future__ import annotations

import dataclasses

from hyperprune.config import check_choice
from hyperprune.sparse.config import SparseConfig

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
    # decay, every Delta T = 100 steps. RigL also stops updating at 75% of training: set stop_epoch
    # (and decay_epochs) to 3/4 of the epochs to match it.
    "rigl": {
        "init": "ERK", "death": "magnitude", "growth": "gradient", "redistribution": "none",
        "death_rate": 0.3, "death_rate_schedule": "cosine", "update_every": 100,
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
