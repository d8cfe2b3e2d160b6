"""`search.final_seeds: N` (issue 19 part 2): every model whose final training decides the winner, and
the dense model, trained again under seeds +1 ... +N-1, each its own job; the mean decides.

The planning tests write job records by hand (a search under `full` of three candidates, whose first
seed and whose mean disagree); the last test runs a tiny real search with N = 2.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import optuna
import pytest
import torch

from hyperprune.errors import UserError
from hyperprune.report import write_report
from hyperprune.search import run_search, schedule, seed_noise
from hyperprune.search.console import summary_text
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.results import build_results
from hyperprune.search.space import SearchSpace
from hyperprune.search.strategies import strategy_for

from tests.search.conftest import tiny_search

SPACE = {"sparse.init": ["uniform"], "sparse.death": ["magnitude"], "sparse.growth": ["random"],
         "sparse.redistribution": ["none"], "sparse.death_rate": [0.3, 0.5, 0.7]}


def _cfg(n_seeds=2):
    return tiny_search(Path("/corpus"), Path("/run"), search={"strategy": "full", "n_candidates": 3, "sampler": "grid",
                                                               "space": SPACE, "final_seeds": n_seeds})


def _final(valid, test):
    return {"valid_ppl": valid, "test_ppl": test, "valid_ppl_by_epoch": {"3": valid}, "epochs_trained": 3,
            "train_s": 1.0, "state_epoch": 3, "checkpoint": "/nowhere.pt"}


def _records(cfg, first: dict, second: dict | None, dense=(80.0, 70.0), dense_second=(82.0, 71.0)):
    """Done records: dense@3 and final:C@3 under the search's seed, and (where given) every seed+1 job."""
    final = cfg.final_epochs
    jobs = {Job("dense", final): _final(*dense)}
    jobs.update({Job("final", final, c): _final(*v) for c, v in first.items()})
    if second is not None:
        jobs[Job("seed", final, None, 1)] = _final(*dense_second)
        jobs.update({Job("seed", final, c, 1): _final(*v) for c, v in second.items()})
    return {job.key: JobRecord(job, "done", result) for job, result in jobs.items()}


def _plan(cfg, records):
    strategy = strategy_for(cfg)
    return schedule.plan(cfg, strategy, strategy.pool(SearchSpace.from_config(cfg), None), records)


# candidate 0 is the best under the search's seed (90) and the worst on average ((90 + 130) / 2 = 110)
FIRST = {0: (90.0, 85.0), 1: (95.0, 88.0), 2: (100.0, 91.0)}
SECOND = {0: (130.0, 120.0), 1: (100.0, 93.0), 2: (101.0, 94.0)}


def test_each_seed_is_a_job_and_the_winner_waits_for_them():
    cfg = _cfg()
    plan = _plan(cfg, _records(cfg, FIRST, None))
    seeds = sorted(j.key for j in plan.jobs if j.kind == "seed")
    assert seeds == ["seed:0+1@3", "seed:1+1@3", "seed:2+1@3", "seed:dense+1@3"]
    assert plan.winner is None and not plan.complete      # the first seed alone would say candidate 0
    assert _plan(_cfg(1), _records(cfg, FIRST, None)).winner == 0


def test_the_mean_over_seeds_decides_not_the_first_seed():
    cfg = _cfg()
    records = _records(cfg, FIRST, SECOND)
    plan = _plan(cfg, records)
    assert plan.complete and plan.winner == 1              # means 110, 97.5, 100.5
    results = build_results(cfg, strategy_for(cfg), plan, records, wall_s=1.0)
    seeds = results["seeds"]
    assert seeds["n"] == 2 and seeds["seeds"] == [cfg.seed, cfg.seed + 1] and seeds["method"] == "welch-t"
    assert seeds["models"]["0"]["valid_ppl"] == [90.0, 130.0] and seeds["models"]["0"]["valid_mean"] == 110.0
    assert seeds["models"]["dense"]["test_ppl"] == [70.0, 71.0]
    assert seeds["runner_up"] == 2
    expected = seed_noise.welch([95.0, 100.0], [100.0, 101.0])
    assert seeds["winner_vs_runner_up"]["difference"] == pytest.approx(3.0)
    assert seeds["winner_vs_runner_up"]["ci"] == [expected.lo, expected.hi]
    assert seeds["winner_vs_dense"]["difference"] == pytest.approx(81.0 - 97.5)
    # 3.0 with 2 seeds a side and sds 3.5 and 0.7: far inside the interval
    assert seeds["margin_line"].startswith("winner and runner-up are within seed noise: Δ = 3.00 [")
    assert seeds["margin_line"] in summary_text(results).splitlines()
    winner = next(c for c in results["candidates"] if c["id"] == 1)
    assert winner["status"] == "winner" and winner["final_seeds"]["valid_ppl"] == [95.0, 100.0]
    # the winner's own numbers stay those of the exported file, the search's seed
    assert results["winner"]["valid_ppl"] == 95.0
    assert results["cost"]["seed_epochs"] == 12             # 3 candidates + dense, 3 epochs each


def test_one_seed_keeps_results_as_they_were_and_says_the_noise_was_not_measured():
    cfg = _cfg(1)
    records = _records(cfg, FIRST, None)
    results = build_results(cfg, strategy_for(cfg), _plan(cfg, records), records, wall_s=1.0)
    assert "seeds" not in results and "seed_epochs" not in results["cost"]
    assert seed_noise.margin_line(1, None) in summary_text(results).splitlines()


def test_a_candidate_diverging_under_another_seed_cannot_win():
    cfg = _cfg()
    records = _records(cfg, FIRST, SECOND)
    key = Job("seed", 3, 1, 1).key
    records[key] = JobRecord(records[key].job, "failed", failure="diverged")
    plan = _plan(cfg, records)
    assert plan.complete and plan.winner == 2 and plan.failed[1] == "under seed +1: diverged"


def test_the_dense_model_failing_under_another_seed_is_one_line():
    cfg = _cfg()
    records = _records(cfg, FIRST, SECOND)
    key = Job("seed", 3, None, 1).key
    records[key] = JobRecord(records[key].job, "failed", failure="diverged")
    with pytest.raises(UserError, match="dense reference failed under seed \\+1: diverged"):
        _plan(cfg, records)


def test_the_plan_counts_the_added_cost():
    lsh = strategy_for(tiny_search(Path("/c"), Path("/r"), search={"final_seeds": 3}))
    # 2 finalists + dense, 2 more seeds, 3 epochs
    assert lsh.planned_cost()["seed_epochs"] == 2 * 3 * 3
    assert any(line.startswith("seeds: 3 (search.final_seeds): 2 finalist(s) and the dense model trained again "
                               "under 2 more seed(s) to epoch 3: +18 epochs") for line in lsh.plan_lines())
    assert "seed_epochs" not in strategy_for(tiny_search(Path("/c"), Path("/r"))).planned_cost()
    with pytest.raises(UserError, match="search.final_seeds"):
        tiny_search(Path("/c"), Path("/r"), search={"final_seeds": 0})


def test_a_tiny_search_under_two_seeds(tiny_cfg, tmp_path):
    cfg = tiny_cfg(search={"n_candidates": 3, "finalists": 2, "final_seeds": 2, "metric": "loss"})
    results = run_search(cfg, verbose=False)
    seeds = results.seeds
    finalists = [c for c in results.candidates if c["status"] in ("winner", "finalist")]
    assert len(finalists) == 2 and set(seeds["models"]) == {"dense", *(str(c["id"]) for c in finalists)}
    for model in seeds["models"].values():
        assert len(model["valid_ppl"]) == len(model["test_ppl"]) == 2
        assert model["valid_ppl"][0] != model["valid_ppl"][1]          # another seed, another model
    # the rule, on the records: the lowest mean valid ppl, whatever the first seed says
    assert results.winner["id"] == seed_noise.pick_by_mean(
        {c["id"]: c["final_seeds"]["valid_ppl"] for c in finalists})
    c = finalists[0]["id"]
    replica = cfg.checkpoint_dir / f"{c:04d}.seed+1"
    assert json.loads((replica / "candidate.json").read_text())["config"]["seed"] == cfg.seed + 1
    ours = torch.load(sorted((cfg.checkpoint_dir / f"{c:04d}" / "checkpoints").glob("*.pt"))[0], weights_only=True)
    theirs = torch.load(sorted((replica / "checkpoints").glob("*.pt"))[0], weights_only=True)
    assert ours["config"]["sparse"] == theirs["config"]["sparse"]          # the same settings ...
    masks = ours["sparse"]["masks"]
    assert masks and any(not torch.equal(masks[k], theirs["sparse"]["masks"][k]) for k in masks)   # ... other masks
    assert not torch.equal(ours["model"]["embedding.weight"], theirs["model"]["embedding.weight"])
    assert results.cost["seed_epochs"] == 3 * cfg.final_epochs
    # the dashboard's best trial is the winner: finalists' trials finish on the mean over seeds
    study = optuna.load_study(study_name=cfg.study_name, storage=cfg.storage_url)
    assert study.best_trial.user_attrs["candidate"] == results.winner["id"]
    assert study.best_value == pytest.approx(seeds["models"][str(results.winner["id"])]["valid_mean"])
    # the report: the strip plot, the per-seed table and the margin line
    files = write_report(cfg.run_dir)
    assert files.index.parent.joinpath("seeds.png").is_file()
    rows = json.loads(files.index.parent.joinpath("seeds.json").read_text())["rows"]
    assert len(rows) == 2 * 3 and {r["seed"] for r in rows} == {cfg.seed, cfg.seed + 1}
    assert html.escape(seeds["margin_line"]) in files.index.read_text()


def test_the_dry_run_shows_the_added_cost(tiny_cfg, tmp_path, capsys):
    import yaml

    from hyperprune.cli import main
    from hyperprune.config import to_dict
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(to_dict(tiny_cfg(search={"final_seeds": 2}))))
    assert main(["search", str(config), "--dry-run", "--no-timing"]) == 0
    out = capsys.readouterr().out
    # 2 finalists + the dense model, 1 more seed, 3 epochs
    assert ("seeds: 2 (search.final_seeds): 2 finalist(s) and the dense model trained again under 1 more "
            "seed(s) to epoch 3: +9 epochs") in out


def test_asha_top_rung_trials_are_trained_under_two_seeds(tiny_cfg):
    cfg = tiny_cfg(search={"strategy": "asha", "n_candidates": 3, "final_seeds": 2, "metric": "loss",
                           "asha_promotion": "candidate-order"})
    results = run_search(cfg, verbose=False)
    top = [c for c in results.candidates if c["final_valid_ppl"] is not None]
    assert top and set(results.seeds["models"]) == {"dense", *(str(c["id"]) for c in top)}
    assert all("final_seeds" not in c for c in results.candidates if c["final_valid_ppl"] is None)
    assert results.winner["id"] == seed_noise.pick_by_mean({c["id"]: c["final_seeds"]["valid_ppl"] for c in top})
    assert results.cost["seed_epochs"] == (len(top) + 1) * cfg.final_epochs
