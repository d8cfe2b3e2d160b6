"""Search space from YAML: distributions, conditions, the paper's default, duplicates, errors."""

from __future__ import annotations

import optuna
import pytest

from hyperprune.errors import UserError
from hyperprune.search.proposals import Proposer
from hyperprune.search.rounds import PENDING
from hyperprune.search.space import SearchSpace, paper_space


def test_default_space_is_the_papers(tiny_cfg):
    space = SearchSpace.from_config(tiny_cfg())
    assert [d.key for d in space.dimensions] == list(paper_space())
    grid = space.grid()
    assert grid["sparse.death_rate"] == [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert grid["sparse.death"] == ["magnitude", "SET-signed", "threshold", "global_magnitude"]
    n = 1
    for values in grid.values():
        n *= len(values)
    assert n == 144


def test_params_apply_as_overrides_and_floats_come_back_tidy(tiny_cfg):
    cfg = tiny_cfg(search={"space": {
        "sparse.death_rate": {"type": "float", "low": 0.4, "high": 0.9, "step": 0.1},
        "train.lr": {"type": "float", "low": 1, "high": 40, "log": True},
        "sparse.update_every": {"type": "int", "low": 0, "high": 100, "step": 50},
        "model.dropout": [0.0, 0.2],
    }})
    space = SearchSpace.from_config(cfg)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(20):
        params = space.suggest(study.ask())
        assert round(params["sparse.death_rate"], 1) == params["sparse.death_rate"]
        run = space.run_config(params, "somewhere")
        assert run.sparse.death_rate == params["sparse.death_rate"]
        assert run.train.lr == params["train.lr"] and 1 <= run.train.lr <= 40
        assert run.sparse.update_every in (0, 50, 100)
        assert run.model.dropout == params["model.dropout"]
        assert run.run_dir == "somewhere" and run.train.epochs == cfg.final_epochs


def test_conditional_entries_are_sampled_only_when_their_condition_holds(tiny_cfg):
    cfg = tiny_cfg(search={"space": {
        "sparse.death": ["magnitude", "threshold"],
        "sparse.threshold_tolerance": {"type": "float", "low": 0.01, "high": 0.1,
                                       "when": {"sparse.death": ["threshold"]}},
        "train.momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"train.optimizer": "sgd"}},
    }})
    space = SearchSpace.from_config(cfg)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        params = space.suggest(study.ask())
        seen.add(params["sparse.death"])
        assert ("sparse.threshold_tolerance" in params) == (params["sparse.death"] == "threshold")
        assert "train.momentum" in params              # condition on the base config (sgd)
    assert seen == {"magnitude", "threshold"}


def test_identical_settings_are_collapsed(tiny_cfg):
    cfg = tiny_cfg(search={"space": {"sparse.init": ["uniform", "ER"]}, "n_candidates": 6})
    space = SearchSpace.from_config(cfg)
    proposer = Proposer(space, "random", 0, n_candidates=6, batch=6)
    proposals = proposer.propose(lambda slot: PENDING)
    assert len(proposals) == 6
    originals = [p for p in proposals if p.duplicate_of is None]
    assert sorted(p.params["sparse.init"] for p in originals) == ["ER", "uniform"]
    for p in proposals:
        if p.duplicate_of is not None:
            assert p.duplicate_of < p.slot
            assert proposals[p.duplicate_of].params == p.params
            assert proposals[p.duplicate_of].fingerprint == p.fingerprint


def test_settings_equal_after_presets_are_duplicates(tiny_cfg):
    # death_rate 0.5 is the default; writing it explicitly trains the same model
    space = SearchSpace.from_config(tiny_cfg(search={"space": {"sparse.death_rate": [0.5]}}))
    assert space.fingerprint({"sparse.death_rate": 0.5}) == space.fingerprint({})
    assert space.fingerprint({"sparse.death_rate": 0.6}) != space.fingerprint({})


def test_the_pool_is_the_same_whenever_it_is_replayed(tiny_cfg):
    space = SearchSpace.from_config(tiny_cfg())
    scores = {slot: float((slot * 7) % 5) for slot in range(12)}

    def grow(batch):
        proposer = Proposer(space, "tpe", 5, n_candidates=12, batch=batch)
        known: dict[int, float] = {}
        while True:
            proposals = proposer.propose(lambda s: known.get(s, PENDING))
            todo = [p.slot for p in proposals if p.slot not in known]
            if not todo:
                return [p.params for p in proposals]
            known[todo[0]] = scores[todo[0]]          # scores arrive one at a time

    assert grow(2) == grow(2)
    first_batch = Proposer(space, "tpe", 5, n_candidates=12, batch=4).propose(lambda s: PENDING)
    assert len(first_batch) == 4                      # the next batch waits for these scores


@pytest.mark.parametrize("space, message", [
    ({"sparse.deth": ["magnitude"]}, "did you mean 'death'"),
    ({"data.train_tokens": [10]}, "cannot be searched"),
    ({"sparse.death": ["magnitude", "bogus"]}, "value 'bogus' is not allowed"),
    ({"sparse.death_rate": {"type": "float", "low": 0.9, "high": 0.4}}, "above high"),
    ({"train.lr": {"type": "float", "low": 0, "high": 1, "log": True}}, "log range needs low > 0"),
    ({"sparse.death_rate": {"type": "flot", "low": 0.1, "high": 0.4}}, "did you mean 'float'"),
    ({"sparse.death_rate": {"type": "float", "low": 0.1}}, "needs 'high'"),
    ({"sparse.death_rate": {"type": "float", "low": 0.1, "high": 0.5, "stpe": 0.1}}, "did you mean 'step'"),
    ({"sparse.death_rate": "0.5"}, "expected a list of choices"),
    ({"sparse.death_rate": {"type": "float", "low": 0.4, "high": 1.5}}, "out of range"),
    ({}, "search.space is empty"),
])
def test_bad_spaces_are_one_line_errors(tiny_cfg, space, message):
    with pytest.raises(UserError) as info:
        tiny_cfg(search={"space": space})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_cmaes_without_its_package_is_a_clear_error(tiny_cfg, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    # cmaes is a dependency, so its absence (a broken environment) is simulated.
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cmaes" else real(name, *a))
    with pytest.raises(UserError, match="needs the 'cmaes' package"):
        tiny_cfg(search={"sampler": "cmaes"})


def test_grid_needs_steps_and_no_conditions(tiny_cfg):
    with pytest.raises(UserError, match="grid sampler needs a step"):
        SearchSpace.from_config(tiny_cfg(search={"space": {"train.lr": {"type": "float", "low": 1, "high": 2}}})).grid()


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid", "cmaes", "gp"])
def test_every_sampler_grows_a_pool_that_replays_identically(tiny_cfg, sampler):
    space = SearchSpace.from_config(tiny_cfg(search={"space": {
        "sparse.death_rate": {"type": "float", "low": 0.4, "high": 0.9, "step": 0.1},
        "sparse.init": ["uniform", "ER"],
        "train.lr": {"type": "float", "low": 1.0, "high": 4.0, "step": 1.0}}}))

    def grow():
        proposer = Proposer(space, sampler, 7, n_candidates=8, batch=2)
        known: dict[int, float] = {}
        while True:
            proposals = proposer.propose(lambda s: known.get(s, PENDING))
            todo = [p.slot for p in proposals if p.slot not in known]
            if not todo:
                return proposals
            for slot in todo:
                params = proposals[slot].params
                known[slot] = params["sparse.death_rate"] + params["train.lr"] / 10

    first, second = grow(), grow()
    assert len(first) == 8 and [p.params for p in first] == [p.params for p in second]
    if sampler == "grid":
        assert all(p.duplicate_of is None for p in first)      # a grid never repeats a point
