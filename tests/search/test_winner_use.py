"""A search's winner in your own code: a self-contained export that loads with weights_only=True,
`load_model`, a sparse safetensors export with the same perplexity, `status` on it, and the
dashboard study whose best trial is the winner."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import torch
import yaml

import hyperprune
from hyperprune.cli import main
from hyperprune.data import batchify, load_corpus
from hyperprune.perplexity import perplexity
from hyperprune.train import evaluate_loss


@pytest.fixture
def searched(tiny_search_run):
    cfg, results, _ = tiny_search_run
    return cfg, results


def valid_ppl(loaded) -> float:
    cfg = loaded.config
    data = batchify(load_corpus(cfg.data).valid, cfg.train.eval_batch_size)
    return perplexity(evaluate_loss(loaded.model, data, cfg.train.bptt))


def test_the_exported_winner_is_self_contained(searched):
    cfg, results = searched
    run, winner = Path(cfg.run_dir), Path(cfg.run_dir) / "winner"
    (checkpoint,) = sorted((winner / "checkpoints").glob("*.pt"))
    payload = torch.load(checkpoint, weights_only=True)
    assert payload["epoch"] == cfg.final_epochs
    assert payload["vocab"] == load_corpus(cfg.data).vocab.itos
    assert payload["sparse"]["masks"]                               # the masks travel with the weights
    # training from the export writes away from the search, never into its candidate folder
    config = yaml.safe_load((winner / "config.yaml").read_text())
    assert payload["config"]["run_dir"] == config["run_dir"] == str(run.parent / "run-winner")
    about = json.loads((winner / "winner.json").read_text())
    assert about["candidate"] == results.winner["id"] and about["epochs"] == cfg.final_epochs
    assert about["params"] == results.winner["params"] and about["study"] == run.name

    loaded = hyperprune.load_model(winner)
    assert not loaded.model.training and loaded.vocab.itos == payload["vocab"]
    assert loaded.config.sparse.sparsity == cfg.sparse.sparsity


def test_a_sparse_export_of_the_winner_gives_the_same_perplexity(searched, capsys):
    cfg, _ = searched
    winner = Path(cfg.run_dir) / "winner"
    assert main(["export", str(winner), "--format", "sparse"]) == 0
    printed = capsys.readouterr().out
    out = winner / "model.sparse.safetensors"
    assert printed.startswith(f"wrote {out} (sparse): {out.stat().st_size / 1e3:.1f} kB on disk; dense ")
    assert valid_ppl(hyperprune.load_model(out)) == pytest.approx(valid_ppl(hyperprune.load_model(winner)),
                                                                  rel=1e-6, abs=0)


def test_status_describes_an_exported_winner(searched, capsys):
    cfg, results = searched
    winner = Path(cfg.run_dir) / "winner"
    w = results.winner
    assert main(["status", str(winner)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        f"exported winner {winner}: candidate {w['id']} of search 'run' ({cfg.run_dir})",
        f"  trained  {cfg.final_epochs} epochs: valid ppl {w['valid_ppl']:.2f}, test ppl {w['test_ppl']:.2f}"]
    assert main(["status", str(winner), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["kind"] == "winner" and status["state"] == "exported" and status["candidate"] == w["id"]


def test_the_dashboard_studys_best_trial_is_the_winner(searched):
    cfg, results = searched
    study = optuna.load_study(study_name=cfg.study_name, storage=cfg.storage_url)
    states = {t.user_attrs["candidate"]: t.state.name for t in study.trials}
    expected = {c["id"]: "PRUNED" if c["status"] == "eliminated" else "COMPLETE"
                for c in results.candidates if c["status"] != "duplicate"}
    assert states == expected and "PRUNED" in states.values()
    assert study.best_trial.user_attrs["candidate"] == results.winner["id"]
