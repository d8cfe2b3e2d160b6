"""Search config: defaults, paths, and one-line errors for values out of range."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperprune.errors import UserError
from hyperprune.search import load_search_config
from hyperprune.search.config import resolved_paths
from hyperprune.search.lyapunov_k import check_k, state_size
from hyperprune.search.strategies import strategy_for

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["demo.yaml", "search-scaleout.yaml"])
def test_shipped_search_configs_load(name):
    cfg = load_search_config(REPO / "configs" / name)
    assert cfg.search.strategy == "lsh" and cfg.search.metric == "ls"
    assert cfg.search.first_epoch <= cfg.final_epochs


def test_default_locations_live_in_the_run_dir(tiny_cfg, tmp_path):
    cfg = resolved_paths(tiny_cfg())
    run = Path(cfg.run_dir)
    assert run.is_absolute()
    assert cfg.search.storage == f"sqlite:///{run / 'study.db'}"
    assert cfg.search.checkpoint_dir == str(run / "candidates")
    assert cfg.search.dense_dir == str(run / "dense")
    assert cfg.search.study_name == run.name


@pytest.mark.parametrize("section, message", [
    ({"search": {"keep": 1.0}}, "search.keep = 1.0 is out of range; allowed: half+1 (the paper's floor(n/2)+1) "
                                "or a fraction in (0, 1)"),
    ({"search": {"keep": 0}}, "search.keep = 0.0 is out of range"),
    ({"search": {"keep": "half"}}, "search.keep = 'half' is not a keep rule; allowed: half+1"),
    ({"search": {"first_epoch": 5}}, "search.first_epoch = 5 is beyond the budget of 3 epochs"),
    ({"search": {"first_epoch": 2, "final_epochs": 1}}, "beyond the budget of 1 epochs"),
    ({"search": {"final_epochs": -2}}, "search.final_epochs = -2 is out of range"),
    ({"search": {"epochs_per_round": -1}}, "search.epochs_per_round = -1 is out of range"),
    ({"train": {"epochs": -1}}, "train.epochs = -1 is out of range"),
    ({"search": {"finalists": 0}}, "search.finalists = 0"),
    ({"search": {"n_candidates": 0}}, "search.n_candidates = 0"),
    ({"search": {"strategy": "lhs"}}, "unknown search.strategy 'lhs' (did you mean 'lsh'?)"),
    ({"search": {"sampler": "tpee"}}, "did you mean 'tpe'"),
    ({"search": {"metric": "lose"}}, "did you mean 'loss'"),
    ({"search": {"asha_promotion": "order"}}, "unknown search.asha_promotion 'order'"),
    ({"search": {"strategy": "asha", "sampler": "grid"}}, "grid is not available with strategy asha"),
    ({"search": {"n_candiates": 3}}, "unknown config key 'search.n_candiates' (did you mean 'n_candidates'?)"),
    ({"lyapunov": {"distance": "l3"}}, "unknown lyapunov.distance 'l3' (did you mean 'l2'?)"),
    ({"lyapunov": {"convention": "paper"}}, "unknown lyapunov.convention"),
    ({"sparse": {"sparsity": 1.0}}, "sparse.sparsity = 1.0 is out of range; allowed: [0.0, 1.0)"),
    ({"sparse": {"sparsity": 0.0}}, "leaves nothing to prune"),
    ({"sparse": {"preset": "selfish"}}, "unknown sparse.preset 'selfish' (did you mean 'selfish-rnn'?)"),
])
def test_values_out_of_range_are_one_line_errors(tiny_cfg, section, message):
    with pytest.raises(UserError) as info:
        tiny_cfg(**section)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_k_beyond_the_state_size(tiny_cfg):
    cfg = tiny_cfg()
    n = state_size(cfg)
    assert n == 2 * 16                           # reference convention: h of both layers
    check_k(c := tiny_cfg(lyapunov={"k": n}), strategy_for(c))
    with pytest.raises(UserError, match=f"lyapunov.k = {n + 1} is beyond the state size {n}"):
        check_k(c := tiny_cfg(lyapunov={"k": n + 1}), strategy_for(c))
    assert state_size(tiny_cfg(lyapunov={"convention": "standard"})) == 4 * 16   # h and c


def test_scaleout_recipe_takes_zarembas_step_with_a_per_token_loss():
    # Zaremba's medium model: lr 1, clip 5 on the loss summed over bptt = 35 steps. Per token the
    # gradient is 35x smaller, so lr 35 and clip 5/35 give the same update (and the same longest step).
    cfg = load_search_config(REPO / "configs" / "search-scaleout.yaml")
    assert cfg.train.bptt == 35
    assert cfg.train.lr == 1.0 * 35
    assert cfg.train.clip == pytest.approx(5.0 / 35, abs=1e-6)
    assert cfg.train.lr * cfg.train.clip == pytest.approx(1.0 * 5.0, abs=1e-4)


def test_keep_accepts_half_plus_one_from_the_command_line():
    cfg = load_search_config(REPO / "configs" / "demo.yaml", ["search.keep=half+1"])
    assert cfg.search.keep == "half+1"
    sparse = "sparse.sparsity=0.5"
    assert load_search_config(None, [sparse, "search.keep=0.25"]).search.keep == 0.25
    assert load_search_config(None, [sparse]).search.keep == "half+1"          # the default: the paper's rule
    with pytest.raises(UserError, match=r"^search.keep = 'third' is not a keep rule; allowed: half\+1"):
        load_search_config(None, [sparse, "search.keep=third"])


def test_a_study_stored_before_a_setting_existed_resumes(tiny_cfg):
    """A config held by a study from an older version lacks the newer keys: they read as defaults."""
    import optuna

    from hyperprune.config import to_dict
    from hyperprune.search.runner import CONFIG_ATTR, _open_study

    cfg = resolved_paths(tiny_cfg())
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name=cfg.study_name, storage=storage)
    held = to_dict(cfg)
    del held["search"]["asha_promotion"]
    study.set_user_attr(CONFIG_ATTR, held)
    _open_study(cfg, storage)                                  # no "holds a search with other settings"
    changed = resolved_paths(tiny_cfg(search={"n_candidates": 3}))
    with pytest.raises(UserError, match=r"other settings \(search.n_candidates\)"):
        _open_study(changed, storage)


def test_a_mapping_override_merges_and_equals_bang_replaces():
    demo = REPO / "configs" / "demo.yaml"
    yaml_space = set(load_search_config(demo).search.space)
    merged = load_search_config(demo, ["search.space={train.lr: [10, 20]}"]).search.space
    assert set(merged) == yaml_space | {"train.lr"}
    replaced = load_search_config(demo, ["search.space=!{train.lr: [10, 20]}"]).search.space
    assert replaced == {"train.lr": [10, 20]}
    with pytest.raises(UserError, match="search.space is empty"):
        load_search_config(demo, ["search.space=!{}"])
    with pytest.raises(UserError) as err:
        load_search_config(demo, ["train.lr=!5"])
    assert str(err.value) == ("override 'train.lr=!5': '=!' replaces a mapping, and '5' is not one; write "
                              "train.lr=VALUE for a single value, or train.lr=!{...}")
    assert load_search_config(demo, ["train.lr=!!float 7"]).train.lr == 7.0     # YAML's own tag


def test_the_search_leaves_optunas_log_level_as_it_found_it(tiny_cfg):
    """No global side effects (issue 20, section 5): building a proposer changes nothing, and the
    search's quiet level is restored when it returns."""
    import optuna

    from hyperprune.search.proposals import Proposer
    from hyperprune.search.space import SearchSpace
    from hyperprune.search.storage import quiet_optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    try:
        Proposer(SearchSpace.from_config(tiny_cfg()), "tpe", 0, 4, 1)
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG

        @quiet_optuna()
        def inside():
            return optuna.logging.get_verbosity()

        assert inside() == optuna.logging.WARNING
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(before)
