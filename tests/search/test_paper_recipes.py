"""The paper's recipes (configs/paper/) run end to end on CPU, shrunk in sizes only.

Each file is loaded exactly as `hyperprune search FILE k=v ...` loads it, with overrides that only
make things smaller (hidden units, MoS experts, tokens, epochs, candidates) or say where to write;
everything else (family, masked groups, optimiser, keep rule, measurement point) is the recipe's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hyperprune.search import load_search_config, run_search
from hyperprune.search.rounds import HALF_PLUS_ONE, planned_sizes
from hyperprune.search.space import SearchSpace
from hyperprune.train import Trainer

from tests.conftest import REPO, shared_data_dir

PAPER = REPO / "configs" / "paper"
pytestmark = pytest.mark.skipif(shared_data_dir() is None, reason="needs the shared PTB and WikiText-2 corpora")


def shrunk(name: str, run_dir: Path, *overrides: str):
    """The recipe with sizes made small through the user's override mechanism."""
    sizes = ["data.train_tokens=3000", "data.valid_tokens=1500", "data.test_tokens=1500",
             "model.hidden_size=12", "model.emb_size=12", "search.threads=1",
             f"run_dir={run_dir}", "device=cpu"]
    return load_search_config(PAPER / name, [*sizes, *overrides])


def _masked_groups(trainer: Trainer) -> set[str]:
    groups = trainer.model.sparsifiable()
    return {groups[name][0] for name in trainer.sparse.masks}


def _candidate_trainer(cfg, results, candidate: int = 0) -> Trainer:
    params = results.candidates[candidate]["params"]
    run_cfg = SearchSpace.from_config(cfg).run_config(params, str(cfg.checkpoint_dir / f"{candidate:04d}"))
    return Trainer(run_cfg, cfg.checkpoint_dir / f"{candidate:04d}", verbose=False, progress=False)


def test_every_recipe_file_loads_as_written():
    for path in sorted(PAPER.glob("*.yaml")):
        cfg = load_search_config(path)
        assert cfg.search.keep == HALF_PLUS_ONE and cfg.lyapunov.measure == "last-improving", path.name
        assert cfg.search.n_candidates == 40 and cfg.search.first_epoch == 3 and cfg.search.finalists == 2
    lstm = load_search_config(PAPER / "lstm-ptb.yaml")
    assert (lstm.model.hidden_size, lstm.train.lr, lstm.train.clip, lstm.sparse.sparsity) == (1500, 40.0, 0.25, 0.67)
    assert (lstm.train.weight_decay, lstm.final_epochs, lstm.seed) == (1.2e-6, 100, 42)
    assert planned_sizes(26, lstm.search.keep, lstm.search.finalists) == [26, 14, 8, 5, 3, 2]


@pytest.mark.slow
def test_lstm_ptb_runs_the_papers_search(tmp_path):
    cfg = shrunk("lstm-ptb.yaml", tmp_path / "lstm",
                 "search.n_candidates=8", "search.first_epoch=1", "search.epochs_per_round=1",
                 "search.final_epochs=4", "train.epochs=4", "sparse.decay_epochs=4")
    results = run_search(cfg, verbose=False)
    unique = [c for c in results.candidates if c["status"] != "duplicate"]
    sizes = [len(r["candidates"]) for r in results.rounds]
    kept = [len(r["kept"]) for r in results.rounds]
    # half+1 from however many unique candidates the sampler drew
    assert sizes[0] == len(unique)
    assert [sizes[0], *kept] == planned_sizes(len(unique), HALF_PLUS_ONE, 2)
    assert [r["epoch"] for r in results.rounds] == list(range(1, len(sizes) + 1))
    assert sorted(c["status"] for c in unique if c["status"] in ("finalist", "winner")) == ["finalist", "winner"]
    trainer = _candidate_trainer(cfg, results)
    assert trainer.cfg.model.family == "lstm" and trainer.cfg.model.num_layers == 2
    assert _masked_groups(trainer) == {"embedding", "recurrent", "decoder"}
    assert trainer.cfg.train.optimizer == "nt-asgd"
    assert type(trainer.optimizer) is torch.optim.SGD            # before the switch to averaging
    group = trainer.optimizer.param_groups[0]
    assert (group["momentum"], group["weight_decay"]) == (0.0, 1.2e-6)
    assert trainer.cfg.train.lr == 40.0 and trainer.cfg.train.eval_batch_size == 20
    nonzero = sum(int(m.sum()) for m in trainer.sparse.masks.values())
    total = sum(m.numel() for m in trainer.sparse.masks.values())
    assert 1 - nonzero / total == pytest.approx(0.67, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name, family, sparsity", [("rhn-ptb.yaml", "rhn", 0.528),
                                                    ("awd-lstm-mos-wt2.yaml", "awd-lstm", 0.55)])
def test_the_other_recipes_run_a_search(tmp_path, name, family, sparsity):
    # MoS: 2 experts, not 15, and one batch per epoch: each expert's softmax over WikiText-2's 33k
    # words is a (T, B, V) tensor, which makes a step cost seconds on a CPU however small the model.
    # 400 validation tokens hold the probe's 5 windows of 45; 400 test tokens (at batch 1) are 6 steps.
    extra = (["model.last_hidden_size=12", "model.n_experts=2", "data.train_tokens=1100",
              "data.valid_tokens=400", "data.test_tokens=400"] if family == "awd-lstm" else [])
    cfg = shrunk(name, tmp_path / family, *extra, "search.n_candidates=2", "search.first_epoch=1",
                 "search.epochs_per_round=1", "train.epochs=2")
    results = run_search(cfg, verbose=False)
    assert results.winner is not None
    trainer = _candidate_trainer(cfg, results)
    assert trainer.cfg.model.family == family
    assert _masked_groups(trainer) == {"embedding", "recurrent"} | ({"decoder"} if family == "awd-lstm" else set())
    assert trainer.cfg.train.optimizer == "nt-asgd"
    # MoS tests with batch 1 (its main.py:119); RHN with its eval batch
    assert trainer.test_data.shape[1] == (1 if family == "awd-lstm" else trainer.cfg.train.eval_batch_size)
    nonzero = sum(int(m.sum()) for m in trainer.sparse.masks.values())
    total = sum(m.numel() for m in trainer.sparse.masks.values())
    assert 1 - nonzero / total == pytest.approx(sparsity, abs=1e-3)
