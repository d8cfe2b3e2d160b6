"""Registries that map a config string to what it names, as in sparse_learning's `funcs.py`: the
sparse rules, the search strategies, the spectrum distances and the Optuna samplers.

A thing is registered by name where it is defined:

    DEATH = Registry("sparse.death", "hyperprune.sparse.death", entry=Strategy)

    @DEATH.register("magnitude")
    def magnitude(weights, masks, rate, *, state, cfg): ...

With a `package`, the registry imports every module of that folder on first use, so a new rule is
one new file; without one, the things are registered in the registry's own module. An unknown name
raises a one-line `UserError` naming the closest registered one. Bottom layer: every layer that
picks a thing by name uses this one.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hyperprune.config import check_choice


@dataclass(frozen=True)
class Registered:
    """A registered function or class under its name; a registry with details (e.g. the sparse
    rules' `needs`) registers a dataclass of its own with these two fields first."""
    name: str
    fn: Callable


class Registry:
    """Name -> entry (`Registered`, or the `entry` class given) for one concept."""

    def __init__(self, what: str, package: str | None = None, *, entry: type = Registered):
        self.what = what          # as the user writes it, for the error: "sparse.death"
        self.package = package    # the folder whose modules register into this registry, if any
        self.entry = entry
        self._items: dict = {}
        self._loaded = package is None
        # Two threads (an Optuna study with n_jobs > 1) may ask at once: the second must wait for
        # the imports, not see a registry marked loaded but still empty. Re-entrant: a module that
        # asks the registry while being imported must not deadlock.
        self._load_lock = threading.RLock()

    def register(self, name: str, **details) -> Callable[[Callable], Callable]:
        def decorate(fn: Callable) -> Callable:
            # Two modules claiming one name would make the choice depend on import order.
            if name in self._items and self._items[name].fn is not fn:
                raise ValueError(f"{self.what} '{name}' is registered twice")
            self._items[name] = self.entry(name, fn, **details)
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

    def get(self, name: str):
        """The entry registered as `name`; an unknown name is a one-line UserError with the closest."""
        self._load()
        check_choice(self.what, name, self._items)
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self.names()
