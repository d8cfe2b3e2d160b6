"""Kill a search with SIGKILL at several points, run the same command again: the same result."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hyperprune.config import from_dict
from hyperprune.search import SearchConfig, SearchResults, run_search

from .conftest import tiny_search_raw
from .held_process import hyperprune_process, wait_for


def run_until_killed(config: Path, kind: str, epoch: int, flag: Path) -> str:
    """Start `hyperprune search CONFIG`, hold it at the end of the first epoch `epoch` it trains for a
    job of `kind` (checkpointed, the job not finished: held_process.py) and SIGKILL it there; returns
    the key of the job it was killed in."""
    proc = hyperprune_process("search", str(config), hook=("hold", kind, str(epoch), str(flag)))
    try:
        wait_for(flag.exists, f"the search held at epoch {epoch} of a {kind} job", watch=(proc,))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL          # killed while held, not ended on its own
    return flag.read_text()


def comparable(results: SearchResults) -> dict:
    def rounded(x):
        return round(x, 9) if isinstance(x, float) else x
    return {
        "candidates": [(c["id"], c["params"], c["status"], c["eliminated_in_round"], c["epochs_trained"],
                        {k: rounded(v) for k, v in c["scores"].items()},
                        {k: rounded(v) for k, v in c["valid_ppl_by_epoch"].items()},
                        rounded(c["final_test_ppl"])) for c in results.candidates],
        "rounds": [(r["epoch"], r["candidates"], r["kept"]) for r in results.rounds],
        "winner": (results.winner["id"], rounded(results.winner["valid_ppl"]),
                   rounded(results.winner["test_ppl"])),
        "dense": {k: rounded(v) for k, v in results.dense["valid_ppl_by_epoch"].items()},
        "epochs": results.cost["epochs_total"],
    }


@pytest.mark.slow
def test_search_killed_at_several_points_ends_as_an_uninterrupted_one(tiny_corpus_dir, tmp_path):
    sections = {"search": {"sampler": "tpe", "n_candidates": 6}}
    straight = run_search(from_dict(SearchConfig, tiny_search_raw(tiny_corpus_dir, tmp_path / "straight", **sections)),
                          verbose=False)

    raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "killed", **sections)
    config = tmp_path / "killed.yaml"
    config.write_text(yaml.safe_dump(raw))
    # Killed mid-job: in the dense reference, in the pool (round 0's first score), in round 1 (its
    # first survivor's score), in the finals (the first finalist); each run resumes the one before.
    first_kept = min(straight.rounds[0]["kept"])
    first_finalist = min(c["id"] for c in straight.candidates if c["final_valid_ppl"] is not None)
    phases = [("dense", 1, "dense@1"), ("score", 1, "score:0@1"), ("score", 2, f"score:{first_kept}@2"),
              ("final", 3, f"final:{first_finalist}@3")]
    killed_in = [run_until_killed(config, kind, epoch, tmp_path / f"held-{n}") for n, (kind, epoch, _) in enumerate(phases)]
    assert killed_in == [job for _, _, job in phases]
    results_file = tmp_path / "killed" / "results.json"
    assert results_file.exists()
    done = subprocess.run([sys.executable, "-m", "hyperprune.cli", "search", str(config)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "winner (candidate" in done.stdout
    resumed = run_search(from_dict(SearchConfig, raw), verbose=False)
    assert comparable(resumed) == comparable(straight)
    assert resumed.status == "complete"
