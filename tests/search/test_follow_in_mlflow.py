"""The README's MLflow block, run as written on a tiny search in `runs/demo`, read back from the
local file store: one MLflow run per finished candidate, with the values of the dashboard study.

Needs `pip install -e ".[mlflow]"` (optuna-integration and mlflow); skipped without them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from hyperprune.cli import main
from tests.search.conftest import tiny_search_raw

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**MLflow and Weights & Biases.**"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


# optuna-integration 4.9 deprecated the callback (removal planned for 6.0); the README says so
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_the_readme_block_logs_every_finished_candidate_to_mlflow(tiny_corpus_dir, tmp_path, monkeypatch, capsys):
    pytest.importorskip("optuna_integration")
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)                  # the block's paths: runs/demo, ./mlruns.db
    config = tmp_path / "search.yaml"
    # 4 candidates: two eliminated in round 0, two finalists, so both kinds of MLflow run are read
    config.write_text(yaml.safe_dump(tiny_search_raw(tiny_corpus_dir, Path("runs/demo"), search={"n_candidates": 4})))
    assert main(["search", str(config), "--quiet"]) == 0
    results = json.loads(Path("runs/demo/results.json").read_text())

    exec(compile(readme_block(), "README.md", "exec"), {})

    client = mlflow.tracking.MlflowClient(tracking_uri="sqlite:///mlruns.db")
    experiment = client.get_experiment_by_name("demo")            # the study's name
    runs = client.search_runs([experiment.experiment_id])
    by_candidate = {int(run.data.tags["candidate"]): run for run in runs}
    trained = [c for c in results["candidates"] if c["status"] in ("winner", "finalist", "eliminated")]
    assert {"winner", "finalist", "eliminated"} <= {c["status"] for c in trained}
    assert sorted(by_candidate) == sorted(c["id"] for c in trained)
    for c in trained:
        run = by_candidate[c["id"]]
        assert run.data.tags["state"] == ("PRUNED" if c["status"] == "eliminated" else "COMPLETE")
        assert run.data.params == {k: str(v) for k, v in c["params"].items()}
        if c["status"] == "eliminated":
            assert "final_valid_ppl" not in run.data.metrics
        else:
            assert run.data.metrics["final_valid_ppl"] == pytest.approx(c["final_valid_ppl"], rel=1e-12)
    winner = results["winner"]
    best = min((r for r in runs if "final_valid_ppl" in r.data.metrics),
               key=lambda r: r.data.metrics["final_valid_ppl"])
    assert int(best.data.tags["candidate"]) == winner["id"]
