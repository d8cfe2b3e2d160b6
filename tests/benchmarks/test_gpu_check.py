"""benchmarks/gpu_check.py --tiny: the GPU script's code path, on the CPU with tiny sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hyperprune.search.rounds import HALF_PLUS_ONE, planned_sizes

from tests.conftest import REPO, shared_data_dir

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shared_data_dir() is None, reason="needs the shared PTB corpus")]


def test_tiny_mode_runs_all_three_checks_and_writes_their_figures(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "HYPERPRUNE_DATA": str(shared_data_dir()), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--tiny",
                           "--run-root", str(tmp_path / "root"), "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["tiny"] is True and result["gpu"] is None
    t = result["throughput"]
    assert len(t["ours_s"]) == len(t["bare_s"]) == 2 and t["ratio_ours_over_bare_throughput"] > 0
    s = result["spectrum"]
    assert s["exponents"] == 48 and s["cpu_s"] > 0 and "cuda_s" not in s
    c = result["search"]
    assert c["exit_codes"] == {"owner": 0, "worker": 0}
    assert c["status"] == "complete" and c["winner"] is not None
    unique = [status for status in c["candidate_statuses"].values() if status != "duplicate"]
    sizes = planned_sizes(len(unique), HALF_PLUS_ONE, 2)
    assert c["rounds"] == [[n, k] for n, k in zip(sizes, sizes[1:])]     # 4 -> 3 -> 2
    assert "(a) lstm-large 24" in done.stdout and "(c) 4-candidate" in done.stdout
