"""Every choice by name goes through `hyperprune.registry.Registry`: a typo is one line that says
what was given, the closest name and the names allowed."""

from __future__ import annotations

import pytest

from hyperprune.errors import UserError
from hyperprune.lyapunov.distances import DISTANCES
from hyperprune.registry import Registered, Registry
from hyperprune.search.proposals import SAMPLERS
from hyperprune.search.strategies import STRATEGIES
from hyperprune.sparse.registry import DEATH


@pytest.mark.parametrize("registry, typo, closest", [
    (DEATH, "magnitud", "magnitude"),
    (STRATEGIES, "lhs", "lsh"),
    (DISTANCES, "wasserstien", "wasserstein"),
    (SAMPLERS, "tpee", "tpe"),
])
def test_a_typo_is_one_line_naming_the_closest(registry, typo, closest):
    with pytest.raises(UserError) as caught:
        registry.get(typo)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"unknown {registry.what} '{typo}'")
    assert f"'{closest}'" in message and ", ".join(registry.names()) in message


def test_the_samplers_and_distances_are_the_ones_the_config_allows():
    assert SAMPLERS.names() == ["tpe", "random", "grid", "cmaes", "gp"]
    assert DISTANCES.names() == ["l2", "l2-topk", "relative", "wasserstein"]
    assert "l2" in DISTANCES and "l3" not in DISTANCES and list(DISTANCES) == DISTANCES.names()


def test_a_name_registered_twice_by_two_functions_is_refused():
    colours = Registry("colour")
    colours.register("red")(lambda: 1)
    with pytest.raises(ValueError, match="colour 'red' is registered twice"):
        colours.register("red")(lambda: 2)
    assert colours.get("red") == Registered("red", colours.get("red").fn) and colours.get("red").fn() == 1
