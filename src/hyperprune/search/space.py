"""The search space: dotted run-config keys mapped to Optuna distributions, applied as overrides.

In YAML (`search.space`), each key is a path into the run config and each value a distribution:

    sparse.init: [uniform, ER]                                   # shorthand for a categorical
    sparse.death: {type: categorical, choices: [magnitude, SET-signed, threshold]}
    sparse.death_rate: {type: float, low: 0.4, high: 0.9, step: 0.1}
    train.lr: {type: float, low: 10, high: 40, log: true}
    sparse.update_every: {type: int, low: 50, high: 200, step: 50}
    sparse.threshold_tolerance: {type: float, low: 0.01, high: 0.1, when: {sparse.death: [threshold]}}

An entry with `when` is sampled only when every named key (sampled earlier in the space, or else
taken from the base config) has one of the listed values. Entries are sampled in the order written.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from hyperprune import config as configuration
from hyperprune.config import closest, to_dict
from hyperprune.errors import UserError
from hyperprune.lyapunov.dense_spectra import content_hash
from hyperprune.train.config import RunConfig
from hyperprune.train.trainer import resolve_run_config

# Sections a candidate may change. Data, seed and device are shared with the dense reference and
# the probe, so a search that varied them would compare candidates against different references.
SEARCHABLE = ("model", "train", "sparse")
# Settings the search's own schedule decides for every candidate: a space entry would be overridden
# (a candidate "with train.epochs=3" trained to the budget anyway), so it is refused.
SCHEDULED = {"train.epochs": "the search trains every candidate to its budget (search.final_epochs, else "
                             "train.epochs) on its own round schedule; set train.epochs outside the space"}


def paper_space() -> dict[str, Any]:
    """The space of the LSH paper at a fixed sparsity: 2 x 4 x 1 x 3 x 6 = 144 settings
    (first_round.py:11-17 of the released code; docs/paper.md, row "Search space")."""
    return {
        "sparse.init": {"type": "categorical", "choices": ["uniform", "ER"]},
        "sparse.death": {"type": "categorical",
                         "choices": ["magnitude", "SET-signed", "threshold", "global_magnitude"]},
        "sparse.growth": {"type": "categorical", "choices": ["random"]},
        "sparse.redistribution": {"type": "categorical", "choices": ["magnitude", "nonzeros", "none"]},
        "sparse.death_rate": {"type": "float", "low": 0.4, "high": 0.9, "step": 0.1},
    }


@dataclass(frozen=True)
class Dimension:
    key: str                              # dotted run-config path, also the Optuna parameter name
    distribution: BaseDistribution
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def grid_values(self) -> list[Any]:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return list(d.choices)
        if isinstance(d, IntDistribution):
            return list(range(d.low, d.high + 1, d.step))
        if isinstance(d, FloatDistribution) and d.step is not None:
            n = int(round((d.high - d.low) / d.step))
            return [_tidy(d.low + i * d.step) for i in range(n + 1)]
        raise UserError(f"search.space.{self.key}: the grid sampler needs a step for float ranges "
                        f"(add step: ...) or a categorical list")


def _suggest(trial: optuna.Trial, name: str, d: BaseDistribution) -> Any:
    if isinstance(d, CategoricalDistribution):
        return trial.suggest_categorical(name, d.choices)
    if isinstance(d, IntDistribution):
        return trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
    return trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)


def _tidy(value: Any) -> Any:
    """0.6000000000000001 -> 0.6: stepped floats come back from Optuna with binary noise."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.12g}")
    return value


class SearchSpace:
    """An ordered list of dimensions plus the base run config they override."""

    def __init__(self, dimensions: list[Dimension], base: dict[str, Any]):
        self.dimensions = dimensions
        self.base = base

    @classmethod
    def from_config(cls, cfg) -> "SearchSpace":
        """The space of a `SearchConfig` (its `search.space`, or the paper's), validated."""
        raw = cfg.search.space if cfg.search.space is not None else paper_space()
        if not raw:
            raise UserError("search.space is empty; give at least one entry, or leave it out for the paper's space")
        base = cfg.run_dict()
        dims = []
        for key, spec in raw.items():
            dims.append(_parse_dimension(str(key), spec, base, [d.key for d in dims]))
        space = cls(dims, base)
        space.check_values()
        return space

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {d.key: d.distribution for d in self.dimensions}

    def active(self, dim: Dimension, params: dict[str, Any]) -> bool:
        return all(_lookup(params, self.base, key) in allowed for key, allowed in dim.when)

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Sample every active dimension from `trial`; {dotted key: value} in space order."""
        params: dict[str, Any] = {}
        for dim in self.dimensions:
            if self.active(dim, params):
                params[dim.key] = _tidy(_suggest(trial, dim.key, dim.distribution))
        return params

    def run_config(self, params: dict[str, Any], run_dir: str) -> RunConfig:
        """The candidate's run config: the base with `params` applied, training in `run_dir`."""
        raw = json.loads(json.dumps(self.base))
        for key, value in params.items():
            _assign(raw, key, value)
        raw["run_dir"] = run_dir
        return configuration.from_dict(RunConfig, raw)

    def fingerprint(self, params: dict[str, Any]) -> str:
        """Equal for two candidates that would train identically: the resolved config, minus paths."""
        resolved = to_dict(resolve_run_config(self.run_config(params, "")))
        for key in ("run_dir", "device"):
            resolved.pop(key, None)
        return content_hash(resolved, 16)

    def grid(self) -> dict[str, list[Any]]:
        """{key: values} for Optuna's GridSampler; conditional entries have no grid."""
        for dim in self.dimensions:
            if dim.when:
                raise UserError(f"search.space.{dim.key}: the grid sampler cannot take conditional entries "
                                f"(when: ...); use tpe or random, or drop the condition")
        return {d.key: d.grid_values() for d in self.dimensions}

    def check_values(self) -> None:
        """Apply each categorical choice and each range end to the base config: a bad value fails
        here, with the run config's own one-line message, not hours into the search."""
        for dim in self.dimensions:
            d = dim.distribution
            if isinstance(d, CategoricalDistribution):
                values = list(d.choices)
            else:
                values = [d.low, d.high]
            for value in values:
                try:
                    self.run_config({dim.key: value}, "")
                except UserError as exc:
                    raise UserError(f"search.space.{dim.key}: value {value!r} is not allowed: {exc}") from None


def _parse_dimension(key: str, spec: Any, base: dict[str, Any], earlier: list[str]) -> Dimension:
    where = f"search.space.{key}"
    _check_key(key, base)
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected a list of choices or a mapping with type: categorical | int | float, "
                        f"got {spec!r}")
    spec = dict(spec)
    kind = spec.pop("type", None)
    when_raw = spec.pop("when", None)
    allowed = {"categorical": ["choices"], "int": ["low", "high", "step", "log"],
               "float": ["low", "high", "step", "log"]}
    configuration.check_choice(f"{where}.type", kind, allowed)
    for name in spec:
        if name not in allowed[kind]:
            raise UserError(f"unknown key '{where}.{name}'{closest(name, allowed[kind])}; "
                            f"allowed for type {kind}: {', '.join(allowed[kind] + ['when'])}")
    try:
        distribution = _distribution(kind, spec, where)
    except (ValueError, TypeError) as exc:
        raise UserError(f"{where}: {exc}") from None
    when = ()
    if when_raw is not None:
        if not isinstance(when_raw, dict) or not when_raw:
            raise UserError(f"{where}.when: expected a mapping such as {{sparse.death: [threshold]}}, got {when_raw!r}")
        items = []
        for cond_key, values in when_raw.items():
            cond_key = str(cond_key)
            if cond_key not in earlier:
                _check_key(cond_key, base)
            values = tuple(values) if isinstance(values, list) else (values,)
            items.append((cond_key, values))
        when = tuple(items)
    return Dimension(key, distribution, when)


def _distribution(kind: str, spec: dict[str, Any], where: str) -> BaseDistribution:
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{where}.choices: expected a non-empty list, got {choices!r}")
        for choice in choices:
            if not (choice is None or isinstance(choice, (bool, int, float, str))):
                raise UserError(f"{where}.choices: {choice!r} is not a plain value (number, string, true/false)")
        return CategoricalDistribution(choices)
    for name in ("low", "high"):
        if name not in spec:
            raise UserError(f"{where}: type {kind} needs '{name}'")
    low, high = spec["low"], spec["high"]
    log = bool(spec.get("log", False))
    if kind == "int":
        for name in ("low", "high"):
            if not isinstance(spec[name], int) or isinstance(spec[name], bool):
                raise UserError(f"{where}.{name}: expected an integer, got {spec[name]!r}")
        if low > high:
            raise UserError(f"{where}: low = {low} is above high = {high}")
        return IntDistribution(low, high, log=log, step=int(spec.get("step", 1)))
    for name in ("low", "high"):
        if not isinstance(spec[name], (int, float)) or isinstance(spec[name], bool):
            raise UserError(f"{where}.{name}: expected a number, got {spec[name]!r}")
    if low > high:
        raise UserError(f"{where}: low = {low} is above high = {high}")
    if log and low <= 0:
        raise UserError(f"{where}: a log range needs low > 0, got low = {low}")
    step = spec.get("step")
    return FloatDistribution(float(low), float(high), log=log, step=None if step is None else float(step))


def _check_key(key: str, base: dict[str, Any]) -> None:
    section, _, rest = key.partition(".")
    where = f"search.space key '{key}'"
    if section not in SEARCHABLE:
        raise UserError(f"{where} cannot be searched; allowed sections: {', '.join(s + '.' for s in SEARCHABLE)} "
                        f"(data, seed and device are shared with the dense reference)")
    if key in SCHEDULED:
        raise UserError(f"{where} cannot be searched: {SCHEDULED[key]}")
    node = base[section]
    parts = rest.split(".") if rest else []
    if not parts:
        raise UserError(f"{where} names a whole section; name one setting, e.g. {section}.{next(iter(node))}")
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            options = list(node) if isinstance(node, dict) else []
            raise UserError(f"unknown {where}{closest(part, options)}; "
                            f"settings under '{section}': {', '.join(options)}")
        node = node[part]


def _lookup(params: dict[str, Any], base: dict[str, Any], key: str) -> Any:
    if key in params:
        return params[key]
    node: Any = base
    for part in key.split("."):
        node = node[part]
    return node


def _assign(raw: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        node = node[part]
    node[leaf] = value.item() if isinstance(value, np.generic) else value


