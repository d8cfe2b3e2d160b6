"""The dense reference and the candidates share their initial weights unless `search.dense_seed`
gives the dense model a seed of its own (docs/paper.md, "Dense model and candidates")."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hyperprune.errors import UserError
from hyperprune.search.execute import Workbench
from hyperprune.search.dense_reference import DenseReference
from hyperprune.search.strategies import strategy_for
from hyperprune.search.space import SearchSpace

from tests.search.conftest import tiny_search

PARAMS = {"sparse.init": "uniform", "sparse.death": "magnitude", "sparse.growth": "random",
          "sparse.redistribution": "none", "sparse.death_rate": 0.5}


def test_unset_the_dense_cache_keeps_the_hash_it_had_before_the_option():
    # acb34f20994d: this config's hash computed by the code before search.dense_seed existed
    # (main at 0b8e065), so every dense model cached before stays found.
    cfg = tiny_search(Path("/corpus"), Path("/run"))
    assert DenseReference(cfg).hash == "acb34f20994d"
    same = tiny_search(Path("/corpus"), Path("/run"), search={"dense_seed": cfg.seed})
    assert DenseReference(same).hash == "acb34f20994d"          # the search's own seed: the same model
    other = DenseReference(tiny_search(Path("/corpus"), Path("/run"), search={"dense_seed": 7}))
    assert other.hash != "acb34f20994d" and other.config.seed == 7


@pytest.mark.parametrize("dense_seed, shared", [(None, True), (7, False)])
def test_candidates_start_as_the_dense_weights_times_their_mask_unless_the_dense_seed_differs(
        tiny_cfg, tmp_path, dense_seed, shared):
    cfg = tiny_cfg(search={"dense_seed": dense_seed})
    bench = Workbench(cfg, strategy_for(cfg))
    dense = bench.trainer(bench.reference.config, tmp_path / "dense").model.state_dict()
    run_cfg = SearchSpace.from_config(cfg).run_config(PARAMS, str(tmp_path / "candidate"))
    candidate = bench.trainer(run_cfg, tmp_path / "candidate")
    engine = candidate.sparse
    name_of = {id(p): n for n, p in candidate.model.named_parameters()}
    masks = {name_of[id(engine.params[n])]: m for n, m in engine.masks.items()}   # by state-dict name
    assert masks
    for name, weight in candidate.model.named_parameters():
        expected = dense[name] * masks[name] if name in masks else dense[name]
        assert torch.equal(weight.detach(), expected) == shared, name


def test_a_negative_dense_seed_is_one_line():
    with pytest.raises(UserError, match="search.dense_seed"):
        tiny_search(Path("/corpus"), Path("/run"), search={"dense_seed": -1})
