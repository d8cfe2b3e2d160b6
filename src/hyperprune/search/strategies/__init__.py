"""Search strategies by name: `search.strategy` picks one, and a new strategy is one new module here.

    lsh    the paper's: rounds on the spectrum distance (or validation loss) a few epochs in
    full   every candidate trained to the budget, ranked by validation perplexity
    asha   asynchronous successive halving (Optuna's pruner) on the same scores

Each module registers its `SearchStrategy` subclass (see `base.py`) with `@STRATEGIES.register`,
the registry every named choice uses (`hyperprune.registry`), so an unknown name is a one-line error naming the closest.
A strategy owns all of its logic: its plan, its cost, its words, and the jobs it plans (`run_job`;
asha's rung loop is `asha_rungs.py`). Its own settings are constructor arguments, checked there;
`from_config` reads them from a YAML config's `search:` section.
"""

from __future__ import annotations

from hyperprune.registry import Registry

STRATEGIES = Registry("search.strategy", "hyperprune.search.strategies")


def strategy_for(cfg):
    """The `SearchStrategy` that `cfg.search.strategy` names, built for `cfg` with its own settings
    (`from_config`; its arguments checked). Built once where a search, a dry run or a status starts,
    and passed on from there."""
    return STRATEGIES.get(cfg.search.strategy).fn.from_config(cfg)


def strategy_names() -> list[str]:
    return STRATEGIES.names()


def strategy_title(name: str) -> str:
    """How a report heads a search of strategy `name`; the name itself for one not registered here."""
    return STRATEGIES.get(name).fn.title if name in STRATEGIES.names() else name
