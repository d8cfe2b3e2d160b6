"""The grid sampler with a pool at least as large as the grid: the pool is the whole grid."""

from __future__ import annotations

from hyperprune.search.proposals import Proposer
from hyperprune.search.rounds import PENDING
from hyperprune.search.space import SearchSpace


def _grow(space, n_candidates):
    proposer = Proposer(space, "grid", 3, n_candidates=n_candidates, batch=2)
    known: dict[int, float] = {}
    while True:
        proposals = proposer.propose(lambda s: known.get(s, PENDING))
        todo = [p.slot for p in proposals if p.slot not in known and p.duplicate_of is None]
        if not todo and len(proposals) == n_candidates:
            return proposals
        for slot in todo:
            known[slot] = proposals[slot].params.get("sparse.death_rate", 0.5)


def test_a_pool_larger_than_the_grid_is_the_whole_grid_then_duplicates(tiny_cfg):
    space = SearchSpace.from_config(tiny_cfg(search={"space": {
        "sparse.death_rate": {"type": "float", "low": 0.4, "high": 0.6, "step": 0.1},
        "sparse.init": ["uniform", "ER"]}}))          # 3 x 2 = 6 points
    first = _grow(space, 9)
    unique = [p for p in first if p.duplicate_of is None]
    assert len(first) == 9 and len(unique) == 6
    points = {(p.params["sparse.death_rate"], p.params["sparse.init"]) for p in unique}
    assert points == {(r, i) for r in (0.4, 0.5, 0.6) for i in ("uniform", "ER")}
    # slots 6, 7, 8 repeat grid points 0, 1, 2 in order
    assert [p.duplicate_of for p in first[6:]] == [0, 1, 2]
    second = _grow(space, 9)                          # a re-run replays the same pool
    assert [p.params for p in second] == [p.params for p in first]


def test_a_pool_exactly_the_grid_size_finishes(tiny_cfg):
    space = SearchSpace.from_config(tiny_cfg(search={"space": {"sparse.init": ["uniform", "ER"]}}))
    pool = _grow(space, 2)
    assert sorted(p.params["sparse.init"] for p in pool) == ["ER", "uniform"]
