"""Registries that map a config string to a strategy, as in sparse_learning's `funcs.py`.

A strategy is a plain function registered by name in the module that defines it:

    @register_death("magnitude")
    def magnitude(weights, masks, rate, *, state, cfg): ...

Each strategy folder (`init/`, `death/`, `growth/`, `redistribution/`, `schedules/`) imports every
module it holds, so a new strategy is one new file. Unknown names raise a one-line `UserError`
naming the closest registered one.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hyperprune.config import check_choice


@dataclass(frozen=True)
class Strategy:
    name: str
    fn: Callable
    needs: tuple[str, ...] = ()    # training signals the engine must record: "gradient", "momentum"
    # Death rules only: no per-tensor removal count is planned, so the regrowth is always shared
    # out by the redistribution scores, `none` scoring every tensor alike (see death/threshold.py).
    shares_regrowth: bool = False


class Registry:
    """Name -> `Strategy` for one concept (death rule, growth rule, ...)."""

    def __init__(self, what: str, package: str):
        self.what = what          # as the user writes it: "sparse.death"
        self.package = package    # the folder whose modules register into this registry
        self._items: dict[str, Strategy] = {}
        self._loaded = False
        # Two threads (an Optuna study with n_jobs > 1) may ask at once: the second must wait for
        # the imports, not see a registry marked loaded but still empty. Re-entrant: a strategy
        # module that asks the registry while being imported must not deadlock.
        self._load_lock = threading.RLock()

    def register(self, name: str, *, needs: tuple[str, ...] = (),
                 shares_regrowth: bool = False) -> Callable[[Callable], Callable]:
        def decorate(fn: Callable) -> Callable:
            if name in self._items and self._items[name].fn is not fn:
                raise ValueError(f"{self.what} '{name}' is registered twice")
            self._items[name] = Strategy(name, fn, tuple(needs), shares_regrowth)
            return fn
        return decorate

    def _load(self) -> None:
        if self._loaded:
            return
        with self._load_lock:
            if self._loaded:
                return
            package = importlib.import_module(self.package)
            for module in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{self.package}.{module.name}")
            self._loaded = True

    def names(self) -> list[str]:
        self._load()
        return list(self._items)

    def get(self, name: str) -> Strategy:
        self._load()
        check_choice(self.what, name, self._items)
        return self._items[name]


INIT = Registry("sparse.init", "hyperprune.sparse.init")
DEATH = Registry("sparse.death", "hyperprune.sparse.death")
GROWTH = Registry("sparse.growth", "hyperprune.sparse.growth")
REDISTRIBUTION = Registry("sparse.redistribution", "hyperprune.sparse.redistribution")
SCHEDULE = Registry("sparse.death_rate_schedule", "hyperprune.sparse.schedules")

register_init = INIT.register
register_death = DEATH.register
register_growth = GROWTH.register
register_redistribution = REDISTRIBUTION.register
register_schedule = SCHEDULE.register
