"""Kill a search with SIGKILL at several points, run the same command again: the same result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hyperprune.config import from_dict
from hyperprune.search import SearchConfig, run_search

from .conftest import tiny_search_raw


def run_until_killed(config: Path, progress_lines: int, delay: float) -> int:
    """Start `hyperprune search CONFIG`, SIGKILL it `delay` s after its n-th progress line; lines seen."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hyperprune.cli", "search", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = 0
    try:
        for line in proc.stdout:
            if " | epoch " in line:
                seen += 1
            if seen >= progress_lines:
                time.sleep(delay)
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return seen


def comparable(results: dict) -> dict:
    def rounded(x):
        return round(x, 9) if isinstance(x, float) else x
    return {
        "candidates": [(c["id"], c["params"], c["status"], c["eliminated_in_round"], c["epochs_trained"],
                        {k: rounded(v) for k, v in c["scores"].items()},
                        {k: rounded(v) for k, v in c["valid_ppl_by_epoch"].items()},
                        rounded(c["final_test_ppl"])) for c in results["candidates"]],
        "rounds": [(r["epoch"], r["candidates"], r["kept"]) for r in results["rounds"]],
        "winner": (results["winner"]["id"], rounded(results["winner"]["valid_ppl"]),
                   rounded(results["winner"]["test_ppl"])),
        "dense": {k: rounded(v) for k, v in results["dense"]["valid_ppl_by_epoch"].items()},
        "epochs": results["cost"]["epochs_total"],
    }


@pytest.mark.slow
def test_search_killed_at_several_points_ends_as_an_uninterrupted_one(tiny_corpus_dir, tmp_path):
    sections = {"search": {"sampler": "tpe", "n_candidates": 6}}
    straight = run_search(from_dict(SearchConfig, tiny_search_raw(tiny_corpus_dir, tmp_path / "straight", **sections)),
                          verbose=False)

    raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "killed", **sections)
    config = tmp_path / "killed.yaml"
    config.write_text(yaml.safe_dump(raw))
    # mid-way through the dense reference, during the pool, during the rounds, during the finals
    for lines, delay in ((1, 0.3), (3, 0.0), (4, 0.5), (3, 0.2)):
        run_until_killed(config, lines, delay)
    results_file = tmp_path / "killed" / "results.json"
    assert results_file.exists()
    done = subprocess.run([sys.executable, "-m", "hyperprune.cli", "search", str(config)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "winner (candidate" in done.stdout
    resumed = run_search(from_dict(SearchConfig, raw), verbose=False)
    assert comparable(resumed) == comparable(straight)
    assert resumed["status"] == "complete"
