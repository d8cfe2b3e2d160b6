"""Typed configuration: YAML or dicts read into dataclasses, with dotted overrides.

Every layer owns the dataclass of its knobs (`DataConfig`, `ModelConfig`, ...); this module
only knows how to fill any dataclass from plain data and to explain, in one line, what is wrong.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

from hyperprune.errors import UserError

T = TypeVar("T")


def closest(name: str, allowed: typing.Iterable[str]) -> str:
    """' (did you mean X?)' when one allowed name is close to `name`, else ''."""
    match = difflib.get_close_matches(str(name), list(allowed), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def check_choice(what: str, value: Any, allowed: typing.Iterable[str]) -> None:
    """Raise a one-line UserError unless `value` is one of `allowed`."""
    allowed = list(allowed)
    if value not in allowed:
        raise UserError(
            f"unknown {what} '{value}'{closest(value, allowed)}; allowed: {', '.join(map(str, allowed))}"
        )


def check_whole(what: str, value: Any, allowed: str) -> int:
    """`value` as an int, or a one-line UserError: a string, a bool or 5.5 is not silently truncated."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UserError(f"{what} = {value!r} is not a whole number; allowed: {allowed}")
    return int(value)


def check_range(what: str, value: float, low: float | None = None, high: float | None = None,
                *, low_open: bool = False, high_open: bool = False) -> None:
    """Raise a one-line UserError unless low <(=) value <(=) high."""
    bad = (
        (low is not None and (value < low or (low_open and value == low)))
        or (high is not None and (value > high or (high_open and value == high)))
    )
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise UserError(f"{what} = {value} is out of range; allowed: {interval}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert plain YAML data to the annotated type, or say in one line why not."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except UserError as exc:
                errors.append(exc)
        raise errors[0] if errors else UserError(f"{where}: value {value!r} is not allowed")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping of settings, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_) = get_args(tp) or (Any,)
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        _, val_tp = get_args(tp) or (Any, Any)
        return {str(k): _coerce(v, val_tp, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise UserError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise UserError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise UserError(f"{where}: expected a number, got {value!r}")
        number = None
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise UserError(f"{where}: expected a number, got {value!r}")
        # NaN passes every range check (all comparisons are false) and inf passes open-ended ones.
        if not math.isfinite(number):
            raise UserError(f"{where} = {number} is not a finite number; give a finite value")
        return number
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{where}: expected a string, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict | None, where: str = "") -> T:
    """Build dataclass `cls` from `data`, rejecting unknown keys with the closest valid name."""
    data = dict(data or {})
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    if not where:
        _check_placement(cls, data)
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise UserError(
                f"unknown config key '{path}'{closest(key, fields)}; "
                f"allowed under '{where or 'top level'}': {', '.join(fields)}"
            )
        kwargs[key] = _coerce(value, hints[key], path)
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def _places(cls: type) -> dict[str, list[str]]:
    """Setting name -> where it lives in config tree `cls`: 'seed' (top level) or 'train.lr' (a section)."""
    hints = get_type_hints(cls)
    out: dict[str, list[str]] = {}
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            for sub in dataclasses.fields(hints[f.name]):
                out.setdefault(sub.name, []).append(f"{f.name}.{sub.name}")
        else:
            out.setdefault(f.name, []).insert(0, f.name)       # a top-level setting is named first
    return out


def _check_placement(cls: type, data: dict) -> None:
    """A setting written in the wrong section (`model.sparsity`, `train.seed`, a top-level `epochs`)
    is named with its right place; other unknown keys get the closest name where they were written."""
    hints = get_type_hints(cls)
    places = _places(cls)
    sections = {f.name for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])}
    for key, value in data.items():
        if key not in hints and key in places:
            wrong, right, given = str(key), places[key], value
        elif key in sections and isinstance(value, dict):
            own = {f.name for f in dataclasses.fields(hints[key])}
            stray = [sub for sub in value if sub not in own and sub in places]
            if not stray:
                continue
            wrong, right, given = f"{key}.{stray[0]}", places[stray[0]], value[stray[0]]
        else:
            continue
        example = given if isinstance(given, (str, int, float, bool)) else "..."
        raise UserError(f"unknown config key '{wrong}': it is a setting of another section; it belongs at "
                        f"{' or '.join(right)} (e.g. {right[0]}={example})")


def to_dict(obj: Any) -> Any:
    """Plain data (for YAML/JSON) from a dataclass tree."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


class Replace(dict):
    """An override's mapping that replaces the config's instead of merging into it (`KEY=!{...}`)."""


def parse_overrides(pairs: typing.Sequence[str]) -> dict:
    """['train.lr=20', 'model.preset=lstm-small'] -> nested dict, values parsed as YAML scalars.

    A mapping merges into the config's (`search.space={train.lr: [10, 20]}` adds an entry); after
    `=!` it replaces it (`search.space=!{train.lr: [10, 20]}` is the whole space). `!!` stays YAML's
    own tag (`train.lr=!!float 20`)."""
    nested: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"override '{pair}' is not of the form key=value (for example train.epochs=3)")
        key, raw = pair.split("=", 1)
        if not key or any(not part for part in key.split(".")):
            raise UserError(f"override '{pair}' has an empty key; use dotted names such as train.epochs=3")
        replace = raw.startswith("!") and not raw.startswith("!!")
        if replace:
            raw = raw[1:]
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        if replace:
            if not isinstance(value, dict):
                raise UserError(f"override '{pair}': '=!' replaces a mapping, and {raw!r} is not one; "
                                f"write {key}=VALUE for a single value, or {key}=!{{...}}")
            value = Replace(value)
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"override '{pair}' conflicts with another override of '{part}'")
        node[leaf] = value
    return nested


def differences(old: Any, new: Any, may_change: typing.Collection[str] = (),
                where: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) of every setting that differs between two plain config
    trees, skipping the keys in `may_change` (and everything under them).

    >>> differences({"train": {"lr": 1, "epochs": 2}}, {"train": {"lr": 5, "epochs": 3}}, {"train.epochs"})
    [('train.lr', 1, 5)]
    """
    if where in may_change:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += differences(old.get(key), new.get(key), may_change, f"{where}.{key}" if where else str(key))
        return out
    return [] if old == new else [(where, old, new)]


def merge(base: dict, extra: dict) -> dict:
    """Deep-merge `extra` into a copy of `base` (extra wins)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Replace):
            out[key] = dict(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error: by default the
    second silently replaces the first, so a second `train:` section would drop the first."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":   # `<<: *anchor` may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:           # an unhashable key: the base class explains it
                    break
                if first is not key_node.start_mark:
                    raise _DuplicateKey(problem=f"key '{key}' appears twice (lines {first.line + 1} and "
                                                f"{key_node.start_mark.line + 1})",
                                        problem_mark=key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping from `path`, or a one-line UserError (also for an empty file and a key given
    twice, which plain PyYAML accepts)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file '{path}' does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"config file '{path}' is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKey as exc:
        raise UserError(f"config file '{path}': {exc.problem}; keep one and merge the settings") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"config file '{path}' is not valid YAML{at}: {problem}") from None
    if data is None:
        raise UserError(f"config file '{path}' is empty; it needs at least a data and a model section "
                        f"(see configs/quick-ptb.yaml)")
    if not isinstance(data, dict):
        raise UserError(f"config file '{path}' must hold a mapping of settings, got {type(data).__name__}")
    return data


def load(cls: type[T], path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> T:
    """Config of type `cls` from a YAML file plus dotted `key=value` overrides."""
    data = read_yaml(path) if path is not None else {}
    return from_dict(cls, merge(data, parse_overrides(overrides)))
