"""The sparse rules' registries: one per concept, each filled by the modules of its folder.

A strategy is a plain function registered by name in the module that defines it:

    @register_death("magnitude")
    def magnitude(weights, masks, rate, *, state, cfg): ...

Each strategy folder (`init/`, `death/`, `growth/`, `redistribution/`, `schedules/`) imports every
module it holds, so a new strategy is one new file. Unknown names raise a one-line `UserError`
naming the closest registered one (`hyperprune.registry`, which every registry uses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hyperprune.registry import Registry


@dataclass(frozen=True)
class Strategy:
    name: str
    fn: Callable
    needs: tuple[str, ...] = ()    # training signals the engine must record: "gradient", "momentum"
    # Death rules only: no per-tensor removal count is planned, so the regrowth is always shared
    # out by the redistribution scores, `none` scoring every tensor alike (see death/threshold.py).
    shares_regrowth: bool = False

    def __post_init__(self):
        object.__setattr__(self, "needs", tuple(self.needs))


INIT = Registry("sparse.init", "hyperprune.sparse.init", entry=Strategy)
DEATH = Registry("sparse.death", "hyperprune.sparse.death", entry=Strategy)
GROWTH = Registry("sparse.growth", "hyperprune.sparse.growth", entry=Strategy)
REDISTRIBUTION = Registry("sparse.redistribution", "hyperprune.sparse.redistribution", entry=Strategy)
SCHEDULE = Registry("sparse.death_rate_schedule", "hyperprune.sparse.schedules", entry=Strategy)

register_init = INIT.register
register_death = DEATH.register
register_growth = GROWTH.register
register_redistribution = REDISTRIBUTION.register
register_schedule = SCHEDULE.register
