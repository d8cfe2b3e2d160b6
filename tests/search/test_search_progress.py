"""What a search says about itself: banner, plan, ties, indistinguishable choices, log.jsonl, the
Optuna study as the dashboard shows it, `--json`, `--dry-run` and `hyperprune status`."""

from __future__ import annotations

import json

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from hyperprune.cli import main
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.banner import resume_state
from hyperprune.search.indistinguishable_choices import indistinguishable_choices
from hyperprune.search.rounds import Round
from hyperprune.search.search_log import log_entries
from hyperprune.search.space import SearchSpace
from hyperprune.search.strategies import strategy_for
from hyperprune.search.ties import describe_tie, round_ties

from tests.search.conftest import tiny_search_raw

# lstm-tiny with hidden = embedding = 32 and only the recurrent weights masked: every masked tensor
# is 128 x 32, so ER and uniform keep the same entries and candidates differing only there are
# the same run (same seed): their scores tie exactly.
TIE_SECTIONS = {
    "model": {"preset": "lstm-tiny", "hidden_size": 32, "init_range": 0.3},
    "sparse": {"sparsity": 0.5, "masked": ["recurrent"]},
    "train": {"epochs": 2},
    "search": {"n_candidates": 4, "finalists": 1, "sampler": "grid", "keep": 0.5,
               "space": {"sparse.init": ["uniform", "ER"], "sparse.death_rate": [0.3, 0.6]}},
}


def test_planned_rounds_and_resume_words(tiny_cfg):
    cfg = tiny_cfg(search={"n_candidates": 10, "keep": 0.5, "finalists": 2, "first_epoch": 1,
                           "epochs_per_round": 1}, train={"epochs": 6})
    assert strategy_for(cfg).planned_rounds() == [{"round": 0, "epoch": 1, "candidates": 10, "kept": 5},
                                   {"round": 1, "epoch": 2, "candidates": 5, "kept": 3},
                                   {"round": 2, "epoch": 3, "candidates": 3, "kept": 2}]
    assert resume_state(cfg, strategy_for(cfg), {}) == "fresh start"
    done = {f"score:{c}@1": JobRecord(Job("score", 1, c), "done", {}) for c in range(3)}
    dense = {f"dense@{e}": JobRecord(Job("dense", e), "done", {}) for e in (1, 2, 3, 4, 6)}
    assert resume_state(cfg, strategy_for(cfg), {**done, **dense}) == "resuming: 3/10 candidates done, dense cached"
    dense.pop("dense@6")
    assert resume_state(cfg, strategy_for(cfg), {**done, **dense}) == "resuming: 3/10 candidates done, dense at epoch 4 of 6"


def test_only_ties_that_decide_a_round_are_reported():
    r = Round(0, 2, [1, 2, 3, 4], [1, 2], {1: 0.5, 4: 0.7, 2: 0.7, 3: 0.7})
    ties = round_ties(r)
    assert ties == [{"round": 0, "epoch": 2, "candidates": [2, 3, 4], "score": 0.7, "kept": [2],
                     "eliminated": [3, 4]}]
    assert describe_tie(ties[0]) == ("round 0 at epoch 2: candidates 2, 3, 4 tie at score 0.7; broken by "
                                     "candidate id: kept [2], eliminated [3, 4]")
    assert round_ties(Round(0, 1, [1, 2, 3], [1, 2], {1: 0.5, 2: 0.5, 3: 0.9})) == []   # both kept
    assert round_ties({"round": 1, "epoch": 3, "candidates": [5, 6], "kept": [5],
                       "scores": {"5": 2.0, "6": 2.0}})[0]["eliminated"] == [6]
    # Rounds replayed offline on a pool may name their candidates instead of numbering them.
    assert round_ties({"round": 0, "epoch": 1, "candidates": ["c00", "c01"], "kept": ["c00"],
                       "scores": {"c01": 2.0, "c00": 2.0}})[0]["eliminated"] == ["c01"]


def test_er_and_uniform_are_flagged_when_masked_shapes_are_equal(tiny_cfg):
    same = SearchSpace.from_config(tiny_cfg(**TIE_SECTIONS))
    warnings = indistinguishable_choices(same, 50)
    assert warnings == ["sparse.init choices uniform and ER keep the same entries per tensor on this model "
                        "(masked shapes 128x32): those candidates will tie"]
    differ = SearchSpace.from_config(tiny_cfg(search={"space": {"sparse.init": ["uniform", "ER", "ERK"]}}))
    assert [w.split(" keep")[0] for w in indistinguishable_choices(differ, 50)] == \
        ["sparse.init choices ER and ERK"]                    # equal on matrices; uniform differs


def test_log_entries_from_results():
    results = {"dense": {"valid_ppl_by_epoch": {"1": 30.0, "2": 20.0}},
               "candidates": [{"id": 0, "status": "eliminated", "valid_ppl_by_epoch": {"1": 40.0},
                               "scores": {"1": 0.25}},
                              {"id": 1, "status": "winner", "valid_ppl_by_epoch": {"2": 25.0, "1": 35.0},
                               "scores": {"1": 0.5}}]}
    unknown = {"train_loss": None, "lr": None, "wall_s": None, "tokens_per_s": None}
    trained = {("candidate", 1): {2: {"epoch": 2, "train_loss": 3.5, "lr": 20.0, "wall_s": 1.5, "tokens_per_s": 900.0,
                                      "valid_ppl": 25.0}}}
    assert log_entries(results, trained) == [
        {"model": "dense", "candidate": None, "epoch": 1, "valid_ppl": 30.0, "score": None, "status": "reference", **unknown},
        {"model": "dense", "candidate": None, "epoch": 2, "valid_ppl": 20.0, "score": None, "status": "reference", **unknown},
        {"model": "candidate", "candidate": 0, "epoch": 1, "valid_ppl": 40.0, "score": 0.25, "status": "eliminated",
         **unknown},
        {"model": "candidate", "candidate": 1, "epoch": 1, "valid_ppl": 35.0, "score": 0.5, "status": "winner", **unknown},
        {"model": "candidate", "candidate": 1, "epoch": 2, "valid_ppl": 25.0, "score": None, "status": "winner",
         "train_loss": 3.5, "lr": 20.0, "wall_s": 1.5, "tokens_per_s": 900.0},
    ]


@pytest.fixture(scope="module")
def tied_search(tiny_corpus_dir, tmp_path_factory):
    """One whole search (4 candidates, two pairs of identical runs) through the CLI with --json."""
    root = tmp_path_factory.mktemp("tied")
    config = root / "search.yaml"
    config.write_text(yaml.safe_dump(tiny_search_raw(tiny_corpus_dir, root / "run", **TIE_SECTIONS)))
    return root, config


def test_search_json_banner_ties_log_and_dashboard(tied_search, capsys):
    root, config = tied_search
    assert main(["search", str(config), "search.keep=0.75", "--json"]) == 0   # 4 -> 3: splits a pair
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    run = root / "run"
    assert results == json.loads((run / "results.json").read_text())
    err = captured.err
    assert "  start     fresh start" in err
    assert "  search    LSH rounds on the Lyapunov-spectrum distance: 4 candidates from the grid sampler" in err
    assert "warning: sparse.init choices uniform and ER keep the same entries per tensor" in err
    # the grid's pairs (uniform, r) and (ER, r) train identically; keeping 3 of 4 splits the worse pair
    scores = {c["id"]: c["scores"]["1"] for c in results["candidates"]}
    params = {c["id"]: c["params"] for c in results["candidates"]}
    for a in scores:
        for b in scores:
            if params[a]["sparse.death_rate"] == params[b]["sparse.death_rate"]:
                assert scores[a] == scores[b]
    first = results["rounds"][0]
    tie_lines = [line for line in err.splitlines() if line.startswith("warning: round 0 at epoch 1")]
    # the worst kept and the best eliminated tie (a pair, or all four: every candidate is the same
    # model until its first mask update, which comes after the e0 score)
    tied = sorted(c for c in first["candidates"] if scores[c] == scores[first["kept"][-1]])
    kept = [c for c in tied if c in first["kept"]]
    dropped = [c for c in tied if c not in first["kept"]]
    assert kept and dropped and kept == tied[:len(kept)]                   # broken by id
    assert tie_lines == [f"warning: round 0 at epoch 1: candidates {', '.join(map(str, tied))} tie at score "
                         f"{scores[tied[0]]:.6g}; broken by candidate id: kept {kept}, eliminated {dropped}"]

    # log.jsonl: one line per trained (model, epoch)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    trained = sum(c["epochs_trained"] for c in results["candidates"])
    assert len(log) == results["dense"]["epochs"] + trained
    assert set(log[0]) == {"model", "candidate", "epoch", "valid_ppl", "score", "status", "train_loss", "lr",
                           "wall_s", "tokens_per_s"}

    # the study as optuna-dashboard shows it: one trial per candidate, real durations, every score
    study = optuna.load_study(study_name="run", storage=f"sqlite:///{run / 'study.db'}")
    trials = {t.user_attrs["candidate"]: t for t in study.trials}
    assert sorted(trials) == [0, 1, 2, 3]
    for c in results["candidates"]:
        t = trials[c["id"]]
        assert t.duration.total_seconds() > 0.01
        assert t.intermediate_values == {int(e): s for e, s in c["scores"].items()}
        if c["status"] == "eliminated":
            assert t.state == TrialState.PRUNED and t.value is None
        else:
            assert t.state == TrialState.COMPLETE and t.value == c["final_valid_ppl"]
    assert study.best_trial.user_attrs["candidate"] == results["winner"]["id"]

    # status --json: complete, counts and best so far
    assert main(["status", str(run), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["kind"] == "search" and status["state"] == "complete" and status["eta_s"] == 0.0
    assert status["candidates"] == {"total": 4, "eliminated": 3, "winner": 1}
    assert status["best"]["winner"]["candidate"] == results["winner"]["id"]
    assert status["rounds_done"] == len(results["rounds"]) and status["running"] == []
    assert status["epochs_done"] == status["epochs_planned"] == results["dense"]["epochs"] + trained

    # a re-run resumes: nothing left to do
    assert main(["search", str(config), "search.keep=0.75"]) == 0
    assert "  start     resuming: 4/4 candidates done, dense cached" in capsys.readouterr().out


def test_search_dry_run_writes_nothing(tiny_corpus_dir, tmp_path, capsys):
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(tiny_search_raw(tiny_corpus_dir, tmp_path / "run", **TIE_SECTIONS)))
    assert main(["search", str(config), "--dry-run", "--json"]) == 0
    assert not (tmp_path / "run").exists()
    plan = json.loads(capsys.readouterr().out)
    assert plan["rounds"] == [{"round": 0, "epoch": 1, "candidates": 4, "kept": 2},
                              {"round": 1, "epoch": 2, "candidates": 2, "kept": 1}]
    # 4 x e0 + 2 survivors one more epoch; the finalist is already at the final epoch 2
    assert plan["candidate_epochs"] == 6 and plan["full_training_epochs"] == 8
    assert plan["spectra"] == 2 + 4 + 2                     # dense at epochs 1, 2; 4 + 2 candidates
    assert plan["estimated_s"] == pytest.approx((6 + 2) * plan["epoch_s"] + 8 * plan["spectrum_s"])


def test_status_of_a_train_run_and_of_nothing(tiny_corpus_dir, tmp_path, capsys):
    from tests.test_cli import write_config
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "train.epochs=2"]) == 0
    capsys.readouterr()
    assert main(["status", str(tmp_path / "run"), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert status["kind"] == "train" and status["state"] == "complete" and status["pid"] is None
    assert status["epochs_done"] == status["epochs"] == 2 and status["eta_s"] == 0.0
    assert status["best"] == min(({"epoch": e["epoch"], "valid_ppl": e["valid_ppl"]} for e in log),
                                 key=lambda b: b["valid_ppl"])
    assert main(["status", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip() == (f"hyperprune: error: run directory '{tmp_path / 'nothing'}' does "
                                              f"not exist; give a train or search run directory")


def test_a_search_refuses_top_k_with_the_reference_convention(tiny_cfg):
    from hyperprune.errors import UserError
    from hyperprune.search.lyapunov_k import check_k, state_size
    n = state_size(tiny_cfg())
    check_k(c := tiny_cfg(lyapunov={"k": n}), strategy_for(c))                                   # all exponents: the paper's
    check_k(c := tiny_cfg(lyapunov={"k": 4, "convention": "standard"}), strategy_for(c))         # a random frame: leading 4
    with pytest.raises(UserError) as err:
        check_k(c := tiny_cfg(lyapunov={"k": 4}), strategy_for(c))
    assert str(err.value) == ("lyapunov.k = 4 with the reference convention: the leading k need init=random; the "
                              "paper's reference uses all exponents (leave lyapunov.k out, or use "
                              "lyapunov.convention=standard)")


def test_status_reads_rdb_heartbeats(tmp_path):
    import datetime

    import sqlalchemy
    from optuna.storages._rdb.models import TrialHeartbeatModel

    from hyperprune.search.optuna_internals import rdb_heartbeat_ages
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'h.db'}", heartbeat_interval=60)
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)
    # the beat dated 5 s back by the database's own clock, rather than waiting for it to age
    with storage.engine.begin() as connection:
        now = connection.execute(sqlalchemy.select(sqlalchemy.func.now())).scalar()
        connection.execute(sqlalchemy.update(TrialHeartbeatModel).values(
            heartbeat=now - datetime.timedelta(seconds=5)))
    ages = rdb_heartbeat_ages(storage, [trial._trial_id])
    assert list(ages) == [trial._trial_id] and 5.0 <= ages[trial._trial_id] < 30
    assert rdb_heartbeat_ages(optuna.storages.InMemoryStorage(), [0]) == {}


def test_a_trial_finished_by_the_other_publisher_is_left_alone(monkeypatch):
    """The search process and the worker that completed the search both publish. A worker that read a
    candidate's trial while it ran, and writes after the search process finished it, stops quietly
    (it raised UpdateFinishedTrialError and failed the worker, once, in CI)."""
    import datetime
    from types import SimpleNamespace

    from optuna.trial import TrialState

    from hyperprune.search import dashboard
    from hyperprune.search.jobs import Job, JobRecord
    from hyperprune.search.optuna_internals import storage_of, trial_id

    study = optuna.create_study()
    space = SimpleNamespace(distributions={"x": optuna.distributions.FloatDistribution(0, 1)})
    dashboard.start_candidate(study, space, SimpleNamespace(slot=0, params={"x": 0.5}))
    stale = {0: study.get_trials(deepcopy=True)[0]}                   # read while RUNNING
    storage_of(study).set_trial_state_values(trial_id(stale[0]), TrialState.COMPLETE, [1.0])   # the other process
    monkeypatch.setattr(dashboard, "_candidate_trials", lambda s: stale)
    final = JobRecord(Job("final", 3, 0), "done", {"valid_ppl": 2.0, "test_ppl": 2.5, "epochs_trained": 3})
    plan = SimpleNamespace(failed={}, eliminated={})
    assert dashboard.finish_candidates(study, plan, {"final:0@3": final}, lambda values, result: 2.0) == 0
    dashboard.record_scores(study, Job("final", 3, 0), {3: 2.0}, final.result)
    (trial,) = study.get_trials()
    assert trial.state == TrialState.COMPLETE and trial.value == 1.0 and "test_ppl" not in trial.user_attrs
    assert isinstance(trial.datetime_start, datetime.datetime)
