"""The console's words for settings and duplicates (issue 21, section 5: output polish)."""

from __future__ import annotations

from hyperprune.search.console import duplicates_line, setting_text


def test_a_stepped_float_prints_as_its_step():
    assert 0.4 + 3 * 0.1 == 0.7000000000000001
    assert setting_text(0.4 + 3 * 0.1) == "0.7"
    assert setting_text(12.345678) == "12.345678" and setting_text("ER") == "ER" and setting_text(3) == "3"


def test_duplicates_are_said_in_words():
    assert duplicates_line(4, [(3, 2)]) == ("pool: 4 proposals, 3 distinct: candidate 3 repeats candidate 2's "
                                            "settings (the same run, so it is not trained again)")
    assert duplicates_line(6, [(4, 0), (5, 1)]) == (
        "pool: 6 proposals, 4 distinct: candidate 4 repeats candidate 0's settings; candidate 5 repeats "
        "candidate 1's settings (the same run, so they are not trained again)")


def test_the_dense_models_epochs_count_towards_its_budget(tiny_cfg, capsys):
    from types import SimpleNamespace

    from hyperprune.search.console import SearchConsole
    from hyperprune.search.jobs import Job
    from hyperprune.search.strategies import strategy_for
    cfg = tiny_cfg(train={"epochs": 4})
    console = SearchConsole(cfg, strategy_for(cfg))
    record = lambda e: SimpleNamespace(epoch=e, valid_ppl=100.0, wall_s=1.0, tokens_per_s=1000.0)
    console.epoch_done(Job("dense", 2), record(1))      # dense@2, then dense@4 trains epoch 3
    console.epoch_done(Job("dense", 4), record(3))
    console.epoch_done(Job("score", 3, 0), record(2))   # a candidate's job still counts to its own epoch
    lines = [line.split(" | ")[:2] for line in capsys.readouterr().out.splitlines()]
    assert lines == [["        dense", "epoch   1 of   4"], ["        dense", "epoch   3 of   4"],
                     ["  candidate 0", "epoch   2 of   3"]]


def test_an_asha_trial_line_shows_every_rung_and_the_decision(tiny_cfg, capsys):
    from types import SimpleNamespace

    from hyperprune.search.console import SearchConsole
    from hyperprune.search.jobs import Job
    from hyperprune.search.strategies import strategy_for
    cfg = tiny_cfg(train={"epochs": 4}, search={"strategy": "asha", "sampler": "random"})
    console = SearchConsole(cfg, strategy_for(cfg))
    plan = SimpleNamespace(proposals=[])
    stopped = {"scores": {"1": 4.25, "2": 5.5}, "pruned_at": 1, "valid_ppl": 90.0}
    went_on = {"scores": {"1": 3.0, "2": 2.5, "4": 2.0}, "pruned_at": None, "valid_ppl": 80.0, "test_ppl": 81.0}
    console.job_done(Job("asha", 4, 2), stopped, 1.0, plan, {}, 1.0)
    console.job_done(Job("asha", 4, 3), went_on, 1.0, plan, {}, 1.0)
    lines = [line.split(" | ")[:4] for line in capsys.readouterr().out.splitlines()]
    assert lines == [["  candidate 2", "epoch   2", "scores e1 4.25, e2 5.5",
                      "stopped at rung 1 (epoch 2): not in the best 1/2 there"],
                     ["  candidate 3", "epoch   4", "scores e1 3, e2 2.5, e4 2", "went on at every rung"]]
