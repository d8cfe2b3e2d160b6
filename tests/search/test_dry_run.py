"""`hyperprune search --dry-run`: a plan for the device the search will run on, cost lines that
count the dense model, bounded timing that leaves nothing behind, and the checkpoints' disk as the
code keeps them (checked against a real search)."""

from __future__ import annotations

import json
import tempfile

import pytest
import yaml

from hyperprune.cli import main
from hyperprune.search.dry_run import dry_run, planned_disk
from hyperprune.search.strategies import strategy_for

from tests.search.conftest import tiny_search_raw
from tests.search.test_search_progress import TIE_SECTIONS

# TIE_SECTIONS: 4 candidates, e0 1, keep 0.5, 1 finalist, 2 epochs: rounds 4 -> 2 at epoch 1, 2 -> 1 at 2.


def write(tmp_path, corpus, **sections):
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(tiny_search_raw(corpus, tmp_path / "run", **{**TIE_SECTIONS, **sections})))
    return str(config)


def test_the_disk_planned_is_what_a_real_search_leaves(tiny_corpus_dir, tmp_path, capsys):
    config = write(tmp_path, tiny_corpus_dir)
    assert main(["search", config, "--dry-run", "--no-timing", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    # candidates eliminated at epoch 1 keep 1 checkpoint each, the one at epoch 2 and the finalist 2,
    # the dense model 2, the winner's export 1; one kept best-validation state per run: 4 candidates
    # and the dense model
    assert (plan["disk"]["checkpoints"], plan["disk"]["weights_files"]) == (1 + 1 + 2 + 2 + 2 + 1, 4 + 1)
    assert main(["search", config]) == 0
    files = sorted((tmp_path / "run").rglob("*.pt"))
    checkpoints = [f for f in files if f.parent.name == "checkpoints"]
    weights = [f for f in files if f.parent.name == "best-valid"]
    assert (len(checkpoints), len(weights), len(files)) == (9, 5, 14)
    # computed from the meta-device model: within 10% of the checkpoints written (the candidates'; the
    # dense model's, without masks, are smaller; the winner's export is a best-validation state, no optimiser)
    sizes = {f.stat().st_size for f in checkpoints if "candidates" in f.parts}
    assert all(abs(plan["disk"]["checkpoint_bytes"] - size) < 0.1 * size for size in sizes)
    kept = [f.stat().st_size for f in weights if "candidates" in f.parts]
    assert len(kept) == 4 and all(abs(plan["disk"]["weights_bytes"] - size) < 0.1 * size for size in kept)


def test_a_plan_for_a_gpu_from_a_machine_without_one(tiny_corpus_dir, tmp_path, capsys, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = write(tmp_path, tiny_corpus_dir)
    assert main(["search", config, "--dry-run", "--device", "cuda", "--json"]) == 0
    captured = capsys.readouterr()
    plan = json.loads(captured.out)
    assert plan["device"] == "cuda" and plan["timing_skipped"] == "cuda is not available on this machine"
    assert "estimated_s" not in plan
    # lstm-tiny, hidden 32, vocabulary V of the tiny corpus: the dense model's own count
    from hyperprune.data import load_corpus
    from hyperprune.data.config import DataConfig
    from hyperprune.models import build_model, resolve_model_config
    from hyperprune.search.config import SearchConfig
    from hyperprune.config import from_dict
    cfg = from_dict(SearchConfig, yaml.safe_load(open(config)))
    corpus = load_corpus(DataConfig(name="custom", path=str(tiny_corpus_dir)))
    model = build_model(resolve_model_config(cfg.model), len(corpus.vocab))
    assert plan["parameters"] == sum(p.numel() for p in model.parameters())
    # forward FLOPs per token: 2 per entry of the recurrent matrices and the decoder (embedding: a lookup)
    h, v = 32, len(corpus.vocab)
    per_token = 2 * (2 * (4 * h * h + 4 * h * h) + v * h)
    assert plan["flops_per_token"] == per_token
    assert plan["flops_per_epoch"] == 3 * per_token * corpus.train.numel() + per_token * corpus.valid.numel()
    # reference convention: n = k = 2 layers x 32 hidden, 4 warm-up + 12 measured steps, 2 sequences
    n = 64
    assert plan["flops_per_spectrum"] == (2 * n ** 3 + 4 * n ** 3 - (4 * n ** 3) // 3) * 16 * 2
    assert "  device    cuda, " in captured.err
    assert "plan for cuda:" in captured.err
    assert "timing: skipped (cuda is not available on this machine)" in captured.err


def test_cost_lines_count_the_dense_model(tiny_corpus_dir, tmp_path, capsys):
    config = write(tmp_path, tiny_corpus_dir)
    assert main(["search", config, "--dry-run", "--no-timing"]) == 0
    out = capsys.readouterr().out
    # 4 x e0 + 2 survivors one more epoch = 6; full: 4 x 2 = 8; the dense model 2 on both sides
    assert "cost: 6 candidate epochs + 2 dense = 8, against 8 + 2 = 10 to train all 4 fully (80%; " \
           "candidates alone 75%)" in out
    assert "dense: trained to epoch 2 for its spectra at epochs 1, 2 and the winner-vs-dense comparison" in out
    assert main(["search", config, "--dry-run", "--no-timing", "search.metric=loss"]) == 0
    out = capsys.readouterr().out
    assert "dense: trained to epoch 2 for the winner-vs-dense comparison only (no spectrum is compared)" in out
    assert "no spectrum planned" in out


@pytest.mark.parametrize("strategy, line", [
    ("full", "  epochs    every candidate trained to epoch 2"),
    ("asha", "  epochs    rungs at epoch 1 (eta 2): a trial goes on while in the best 1/2 at its rung, to epoch 2"),
    ("lsh", "  epochs    e0 1, +1 per round, 1 finalist(s) to 2"),
])
def test_each_strategy_prints_its_own_schedule(tiny_corpus_dir, tmp_path, capsys, strategy, line):
    config = write(tmp_path, tiny_corpus_dir, search={**TIE_SECTIONS["search"], "sampler": "random"})
    assert main(["search", config, "--dry-run", "--no-timing", f"search.strategy={strategy}"]) == 0
    out = capsys.readouterr().out
    assert line in out.splitlines()
    assert ("finalist(s)" in out) == (strategy == "lsh")


def test_timing_is_bounded_by_an_injected_clock_and_creates_no_folder(tiny_cfg, tmp_path, monkeypatch, capsys):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen = []

    def clock(state={"now": 0.0}):
        seen.append(sorted(p.name for p in scratch.iterdir()))       # while timing, nothing exists
        state["now"] += 30.0
        return state["now"]

    cfg = tiny_cfg(train={"bptt": 2, "epochs": 2}, search={"metric": "loss", "finalists": 1, "n_candidates": 4})
    plan = dry_run(cfg, "cpu", budget_s=60.0, clock=clock)
    # start at 30 s, the 2nd step ends 60 s later: 2 steps, the first left out as warm-up
    assert (plan["timing_stopped_by"], plan["timed_steps"], plan["seconds_per_step"]) == ("budget", 1, 30.0)
    assert plan["spectrum_s"] == 0.0 and plan["spectrum_timing"] == "none planned"
    assert seen and all(names == [] for names in seen) and list(scratch.iterdir()) == []
    assert plan["estimated_s"] == pytest.approx((plan["candidate_epochs"] + 2) * plan["epoch_s"])
    assert plan["estimated_full_training_s"] == pytest.approx((4 * 2 + 2) * plan["epoch_s"])
    out = capsys.readouterr().out
    assert "timing: 1 step at 30000.0 ms (all that fit in the 60 s budget; extrapolated)" in out


def test_a_slow_spectrum_is_extrapolated_from_one_step(tiny_cfg):
    ticks = iter(range(0, 10_000, 5))                 # every reading 5 s later
    cfg = tiny_cfg(train={"bptt": 2, "epochs": 2})
    plan = dry_run(cfg, "cpu", budget_s=1000.0, clock=lambda: float(next(ticks)))
    # one tangent step took 5 s; 4 warm-up + 12 measured steps (reference) = 80 s > 30 s: extrapolated
    assert (plan["spectrum_s"], plan["spectrum_timing"]) == (80.0, "extrapolated from 1 of its 16 steps")


def test_ctrl_c_in_a_dry_run_does_not_mention_checkpoints():
    from hyperprune.cli import _interrupted, build_parser
    parser = build_parser()
    assert _interrupted(parser.parse_args(["search", "c.yaml", "--dry-run"])) == \
        "hyperprune: interrupted; a dry run writes nothing"
    assert _interrupted(parser.parse_args(["search", "c.yaml"])) == \
        "hyperprune: interrupted; run the same command to resume"
    assert _interrupted(parser.parse_args(["report", "runs/x"])) == "hyperprune: interrupted"


def test_planned_disk_by_hand(tiny_cfg):
    # 10 candidates, keep 0.5, 2 finalists, e0 1, +1: rounds 10 -> 5 (epoch 1), 5 -> 3 (2), 3 -> 2 (3)
    cfg = tiny_cfg(search={"n_candidates": 10, "finalists": 2}, train={"epochs": 6})
    disk = planned_disk(strategy_for(cfg), checkpoint_bytes=100, weights_bytes=10)
    # eliminated: 5 at epoch 1 (1 each), 2 at epoch 2 and 1 at epoch 3 (2 each); finalists 2 x 2; dense 2; export 1
    assert disk["checkpoints"] == 5 + 4 + 2 + 4 + 2 + 1
    # one kept best-validation state per model: 10 candidates and the dense model
    assert disk["weights_files"] == 10 + 1
    assert disk["bytes"] == 18 * 100 + 11 * 10
    assert planned_disk(strategy_for(tiny_cfg(search={"n_candidates": 10, "finalists": 2, "metric": "loss"},
                                 train={"epochs": 6})), 100, 10)["weights_files"] == 10 + 1
    # no spectrum and the last epoch's state reported: nothing is kept
    assert planned_disk(strategy_for(tiny_cfg(search={"n_candidates": 10, "finalists": 2, "metric": "loss",
                                         "final_state": "last"}, train={"epochs": 6})), 100, 10)["weights_files"] == 0
