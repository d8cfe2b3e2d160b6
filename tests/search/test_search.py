"""Whole searches on the tiny corpus: lsh, the loss and full baselines, the dense cache, results.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hyperprune.cli import main
from hyperprune.search import load_results, run_search
from hyperprune.search.jobs import JobQueue
from hyperprune.search.storage import open_storage
from hyperprune.train import load_trained

CANDIDATE_KEYS = {"id", "params", "scores", "valid_ppl_by_epoch", "spectra", "epochs_trained", "epochs_repeated", "train_s",
                  "spectrum_s", "final_valid_ppl", "final_test_ppl", "final_state_epoch", "status", "eliminated_in_round", "failure",
                  "duplicate_of"}
STATUSES = {"running", "eliminated", "finalist", "winner", "failed", "duplicate"}


def check_schema(results: dict, cfg) -> None:
    assert set(results) == {"status", "strategy", "metric", "config", "winner", "dense", "candidates", "rounds", "cost"}
    assert results["status"] == "complete"
    assert set(results["winner"]) == {"id", "params", "valid_ppl", "test_ppl", "state_epoch", "params_total",
                                      "params_nonzero", "checkpoint", "export_dir"}
    assert {"valid_ppl", "test_ppl", "valid_ppl_by_epoch", "spectra"} <= set(results["dense"])
    assert set(results["cost"]) == {"epochs_total", "wall_s", "train_s", "spectrum_s", "full_training_epochs"}
    assert len(results["candidates"]) == cfg.search.n_candidates
    for c in results["candidates"]:
        assert set(c) == CANDIDATE_KEYS
        assert c["status"] in STATUSES
        assert all(isinstance(k, str) for k in (*c["scores"], *c["valid_ppl_by_epoch"], *c["spectra"]))
    for r in results["rounds"]:
        assert set(r) == {"round", "epoch", "candidates", "kept", "scores"}
    json.dumps(results, allow_nan=False)              # strict JSON


def test_lsh_search_end_to_end(tiny_search_run, capsys):
    cfg, results, out = tiny_search_run
    check_schema(results.to_dict(), cfg)
    assert results.to_dict() == json.loads((Path(cfg.run_dir) / "results.json").read_text())
    assert results == load_results(cfg.run_dir)             # the one type, whether returned or read back
    final, s = cfg.final_epochs, cfg.search
    cands = {c["id"]: c for c in results.candidates}
    unique = [c for c in cands.values() if c["status"] != "duplicate"]

    # every unique candidate scored at e0 against the dense spectrum at e0
    dense_e0 = results.dense["spectra"]["1"]
    for c in unique:
        assert "1" in c["scores"] and len(c["spectra"]["1"]) == len(dense_e0) == 32
        l2 = math.sqrt(sum((a - b) ** 2 for a, b in zip(c["spectra"]["1"], dense_e0)))
        assert c["scores"]["1"] == pytest.approx(l2, rel=1e-9)

    # rounds: ranked by score, the better part kept, survivors re-scored one epoch later
    first = results.rounds[0]
    assert first["epoch"] == 1 and sorted(first["candidates"]) == sorted(c["id"] for c in unique)
    scores = {int(k): v for k, v in first["scores"].items()}
    assert first["candidates"] == sorted(scores, key=lambda c: (scores[c], c))
    assert first["kept"] == first["candidates"][:math.ceil(len(unique) * s.keep - 1e-9)]
    for r in results.rounds:
        for c in r["candidates"]:
            assert str(r["epoch"]) in cands[c]["scores"]
            if c not in r["kept"]:
                assert cands[c]["status"] == "eliminated" and cands[c]["eliminated_in_round"] == r["round"]
                assert cands[c]["epochs_trained"] == r["epoch"]

    finalists = [c for c in unique if c["status"] in ("finalist", "winner")]
    assert len(finalists) == s.finalists
    for c in finalists:
        assert c["epochs_trained"] == final and c["final_valid_ppl"] == c["valid_ppl_by_epoch"][str(final)]
    winner = min(finalists, key=lambda c: (c["final_valid_ppl"], c["id"]))
    assert results.winner["id"] == winner["id"] and winner["status"] == "winner"
    assert results.winner["test_ppl"] == winner["final_test_ppl"]

    # accounting
    cost = results.cost
    assert cost["epochs_total"] == sum(c["epochs_trained"] for c in unique) < s.n_candidates * final
    assert cost["full_training_epochs"] == s.n_candidates * final
    assert cost["train_s"] == pytest.approx(sum(c["train_s"] for c in unique))
    assert cost["spectrum_s"] > 0 and cost["wall_s"] > cost["train_s"] * 0.5
    assert results.dense["test_ppl"] > 0 and set(results.dense["valid_ppl_by_epoch"]) == {"1", "2", "3"}

    # the progress lines and the summary
    assert "round 0 at epoch 1" in out and "winner (candidate" in out and "ETA" in out

    # the exported winner evaluates to the reported numbers
    export = Path(results.winner["export_dir"])
    run_cfg, model, payload = load_trained(export)
    assert payload["epoch"] == results.winner["state_epoch"] <= final and payload["sparse"] is not None
    assert main(["evaluate", str(export), "--json", "--device", "cpu"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    # exactly: the search evaluated this very file, as `evaluate` does (search.final_state)
    assert evaluated["valid_ppl"] == results.winner["valid_ppl"]
    assert evaluated["test_ppl"] == results.winner["test_ppl"]

    # running the same search again trains nothing and reports the same
    queue = JobQueue(open_storage(f"sqlite:///{Path(cfg.run_dir).resolve() / 'study.db'}"), "run.jobs")
    jobs_before = len(queue.trials())
    again = run_search(cfg, verbose=False)
    assert len(queue.trials()) == jobs_before
    assert again.candidates == results.candidates and again.winner == results.winner


def test_loss_metric_ranks_by_validation_perplexity(tiny_loss_search_run):
    cfg, results, _ = tiny_loss_search_run
    check_schema(results.to_dict(), cfg)
    assert results.dense["spectra"] == {}
    for c in results.candidates:
        assert c["spectra"] == {} and c["spectrum_s"] == 0
        for epoch, score in c["scores"].items():
            assert score == c["valid_ppl_by_epoch"][epoch]
    assert results.cost["spectrum_s"] == 0


def test_full_strategy_trains_every_candidate_to_the_budget(tiny_cfg, capsys):
    cfg = tiny_cfg(search={"strategy": "full", "n_candidates": 4})
    results = run_search(cfg)
    out = capsys.readouterr().out
    check_schema(results.to_dict(), cfg)
    assert results.rounds == []
    unique = [c for c in results.candidates if c["status"] != "duplicate"]
    assert all(c["epochs_trained"] == cfg.final_epochs and c["final_test_ppl"] for c in unique)
    assert results.cost["epochs_total"] == len(unique) * cfg.final_epochs
    best = min(unique, key=lambda c: (c["final_valid_ppl"], c["id"]))
    assert results.winner["id"] == best["id"]
    # a job of several epochs says each epoch before its own line: epoch e of the budget, its perplexity
    for c in unique:
        lines = [line for line in out.splitlines() if line.startswith(f"{'candidate ' + str(c['id']):>13} | epoch ")]
        assert [line.split("|")[1].split()[1:] for line in lines] == \
            [[str(e), "of", str(cfg.final_epochs)] for e in range(1, cfg.final_epochs)]
        assert all(f"valid ppl {c['valid_ppl_by_epoch'][str(e)]:8.2f}" in line for e, line in enumerate(lines, 1))


def test_the_dense_reference_is_cached_by_content_and_trained_further_only_when_needed(tiny_cfg, tmp_path):
    shared = tmp_path / "dense-cache"
    first = run_search(tiny_cfg(run_dir=str(tmp_path / "a"), search={"dense_dir": str(shared), "n_candidates": 2,
                                                                      "metric": "loss"}), verbose=False)
    (folder,) = shared.iterdir()
    stamps = {p.name: p.stat().st_mtime_ns for p in (folder / "checkpoints").iterdir()}
    second = run_search(tiny_cfg(run_dir=str(tmp_path / "b"), search={"dense_dir": str(shared), "n_candidates": 3,
                                                                       "metric": "loss"}), verbose=False)
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "checkpoints").iterdir()} == stamps
    assert second.dense["valid_ppl"] == first.dense["valid_ppl"]
    longer = run_search(tiny_cfg(run_dir=str(tmp_path / "c"), search={"dense_dir": str(shared), "n_candidates": 2,
                                                                       "metric": "loss", "final_epochs": 4}),
                        verbose=False)
    assert [p.name for p in shared.iterdir()] == [folder.name]
    assert longer.dense["valid_ppl_by_epoch"]["3"] == first.dense["valid_ppl_by_epoch"]["3"]
    assert set(longer.dense["valid_ppl_by_epoch"]) == {"1", "2", "3", "4"}


def test_asha_prunes_at_rungs_on_the_spectrum_distance(tiny_cfg):
    cfg = tiny_cfg(train={"epochs": 4}, search={"strategy": "asha", "n_candidates": 6, "keep": 0.5})
    results = run_search(cfg, verbose=False)
    check_schema(results.to_dict(), cfg)
    cands = [c for c in results.candidates if c["status"] != "duplicate"]
    # rungs at 1, 2 and the budget 4 (eta = 2); the first trial always runs to the end
    assert [r["epoch"] for r in results.rounds] == [1, 2]
    for c in cands:
        epochs = sorted(int(e) for e in c["scores"])
        assert epochs[0] == 1 and set(epochs) <= {1, 2, 4}
        if c["status"] == "eliminated":
            assert c["epochs_trained"] == epochs[-1] < 4 and c["final_valid_ppl"] is None
        else:
            assert c["epochs_trained"] == 4 and c["final_test_ppl"] is not None
    assert any(c["status"] == "eliminated" for c in cands)
    # the first trial is alone at each rung when it reports, so the pruner cannot stop it
    first = min(cands, key=lambda c: c["id"])
    assert sorted(first["scores"], key=int) == ["1", "2", "4"] and first["epochs_trained"] == 4
    assert first["status"] in ("finalist", "winner") and first["final_test_ppl"] is not None
    assert results.cost["epochs_total"] < 6 * 4
    finishers = [c for c in cands if c["final_valid_ppl"] is not None]
    assert results.winner["id"] == min(finishers, key=lambda c: (c["final_valid_ppl"], c["id"]))["id"]
