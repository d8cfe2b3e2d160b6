"""Every number a finished model reports comes from one saved state (`search.final_state`).

The run below is chosen so that validation is best at epoch 2 of 4, for the candidate and for the
dense model alike (a learning rate of 12 on the tiny corpus: validation ppl ~92, 91.5, 97, 150), so
the best-validation state and the last epoch's are different models. The reference numbers come
from `hyperprune evaluate` on the exported winner, and from the candidate's own checkpoint of the
last epoch.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from hyperprune.cli import main
from hyperprune.search import run_search

from .conftest import tiny_search

SPACE = {"sparse.init": ["uniform"], "sparse.death": ["magnitude"], "sparse.growth": ["random"],
         "sparse.redistribution": ["none"], "sparse.death_rate": [0.5]}
BEST, LAST = 2, 4


def _cfg(corpus_dir, folder, strategy, final_state):
    return tiny_search(corpus_dir, folder / f"{strategy}-{final_state}",
                       model={"preset": "lstm-tiny", "hidden_size": 32, "init_range": 0.3},
                       train={"epochs": LAST, "lr": 12.0, "decay_after": None, "clip": 5.0},
                       search={"strategy": strategy, "n_candidates": 1, "finalists": 1, "first_epoch": 1,
                               "space": SPACE, "final_state": final_state})


@pytest.fixture(scope="module")
def lsh_best_valid(tiny_corpus_dir, tmp_path_factory):
    """The lsh search with final_state best-valid, which two tests read: (config, results)."""
    cfg = _cfg(tiny_corpus_dir, tmp_path_factory.mktemp("final-state"), "lsh", "best-valid")
    return cfg, run_search(cfg, verbose=False)


def _evaluate(path, capsys) -> dict:
    capsys.readouterr()
    assert main(["evaluate", str(path), "--json", "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("strategy", ["lsh", "full", "asha"])
def test_valid_and_test_come_from_the_best_validation_state_the_winner_export_holds(tiny_corpus_dir, tmp_path, capsys,
                                                                                     strategy, request):
    if strategy == "lsh":
        cfg, results = copy.deepcopy(request.getfixturevalue("lsh_best_valid"))
    else:
        cfg = _cfg(tiny_corpus_dir, tmp_path, strategy, "best-valid")
        results = run_search(cfg, verbose=False)
    (candidate,) = results.candidates
    by_epoch = candidate["valid_ppl_by_epoch"]
    assert min(by_epoch, key=by_epoch.get) == str(BEST) and by_epoch[str(BEST)] < by_epoch[str(LAST)]
    winner = results.winner
    assert winner["state_epoch"] == candidate["final_state_epoch"] == BEST
    # the valid ppl that picked the winner is the one recorded in training at its best epoch ...
    assert winner["valid_ppl"] == candidate["final_valid_ppl"] == by_epoch[str(BEST)]
    # ... and both numbers are a fresh evaluation of the exported file, exactly
    fresh = _evaluate(Path(cfg.run_dir) / "winner", capsys)
    assert fresh["epoch"] == BEST
    assert (fresh["valid_ppl"], fresh["test_ppl"]) == (winner["valid_ppl"], winner["test_ppl"])
    # the last epoch's model is another one: its test ppl is what was reported before the fix
    last = _evaluate(cfg.checkpoint_dir / "0000" / "checkpoints" / f"epoch-{LAST:04d}.pt", capsys)
    assert last["valid_ppl"] == by_epoch[str(LAST)]
    assert last["test_ppl"] != winner["test_ppl"]
    assert 0 < winner["params_nonzero"] < winner["params_total"]
    # the dense model's numbers are of its own best state, epoch 2 as well
    dense = results.dense
    assert dense["state_epoch"] == BEST
    assert dense["valid_ppl"] == dense["valid_ppl_by_epoch"][str(BEST)]
    assert dense["valid_ppl"] < dense["valid_ppl_by_epoch"][str(LAST)]


def test_final_state_last_reports_the_last_epoch_for_every_number(tiny_corpus_dir, tmp_path, capsys):
    cfg = _cfg(tiny_corpus_dir, tmp_path, "lsh", "last")
    results = run_search(cfg, verbose=False)
    (candidate,) = results.candidates
    winner = results.winner
    assert winner["state_epoch"] == LAST
    assert winner["valid_ppl"] == candidate["valid_ppl_by_epoch"][str(LAST)]   # not the best epoch's
    fresh = _evaluate(Path(cfg.run_dir) / "winner", capsys)
    assert fresh["epoch"] == LAST
    assert (fresh["valid_ppl"], fresh["test_ppl"]) == (winner["valid_ppl"], winner["test_ppl"])
    assert results.dense["valid_ppl"] == results.dense["valid_ppl_by_epoch"][str(LAST)]


def test_a_best_state_not_kept_is_retrained_to_the_same_numbers(lsh_best_valid):
    """A run trained without keeping its best state (or whose kept state was deleted) gets it back
    by deterministic retraining in scratch: the same numbers, bit for bit."""
    from hyperprune.search.execute import Workbench
    from hyperprune.search.strategies import strategy_for
    from hyperprune.search.measurement import best_valid_path, final_state
    from hyperprune.search.space import SearchSpace

    cfg, results = copy.deepcopy(lsh_best_valid)
    bench = Workbench(cfg, strategy_for(cfg))
    run_cfg = SearchSpace.from_config(cfg).run_config({k: v[0] for k, v in SPACE.items()}, "")
    directory = cfg.checkpoint_dir / "0000"
    best_valid_path(directory, BEST).unlink()
    trainer = bench.trainer(run_cfg, directory)
    again = final_state(trainer, LAST, which="best-valid", scratch_trainer=lambda d: bench.trainer(run_cfg, d))
    assert again.epoch == BEST
    assert (again.valid_ppl, again.test_ppl) == (results.winner["valid_ppl"], results.winner["test_ppl"])
    assert best_valid_path(directory, BEST).is_file()
    assert not list(directory.glob("rewind-*"))
