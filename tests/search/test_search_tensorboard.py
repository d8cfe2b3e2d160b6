"""`hyperprune search --tensorboard DIR`: one TensorBoard run per model, each equal to log.jsonl."""

from __future__ import annotations

import json

import pytest
import yaml

from hyperprune.cli import main
from hyperprune.run_files import read_log
from hyperprune.train.tensorboard import search_run_name
from tests.search.conftest import tiny_search_raw
from tests.train.test_tensorboard import assert_same, expected_runs, read_runs


def test_a_search_gives_each_model_its_own_run_equal_to_its_log(tiny_corpus_dir, tmp_path, capsys):
    pytest.importorskip("tensorboard")
    config = tmp_path / "search.yaml"
    # 4 candidates: eliminated ones and finalists, each with its own curves
    config.write_text(yaml.safe_dump(tiny_search_raw(tiny_corpus_dir, tmp_path / "run", search={"n_candidates": 4})))
    tb = tmp_path / "tb"
    assert main(["search", str(config), "--quiet", "--tensorboard", str(tb)]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    log = read_log(tmp_path / "run")
    read = read_runs(tb)
    assert_same(read, expected_runs(log, search_run_name))
    trained = [c["id"] for c in results["candidates"] if c["epochs_trained"]]
    assert {"winner", "eliminated"} <= {c["status"] for c in results["candidates"]}
    assert sorted(read) == sorted(["dense", *(f"candidate-{c:04d}" for c in trained)])
    # the dense model and every candidate: their own curves, side by side under one tag
    dense_epochs = sorted(int(e) for e in results["dense"]["valid_ppl_by_epoch"])
    assert sorted(read["dense"]["valid_ppl"]) == dense_epochs
    for c in results["candidates"]:
        if c["epochs_trained"]:
            run = read[f"candidate-{c['id']:04d}"]
            assert run["valid_ppl"] == pytest.approx({int(e): v for e, v in c["valid_ppl_by_epoch"].items()},
                                                     rel=1e-6)
            assert run["score"] == pytest.approx({int(e): v for e, v in c["scores"].items()}, rel=1e-6)
