"""examples/: each script runs end to end in its reduced (--quick) mode, and prints what it claims."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_example(name: str, *args: str, data: Path | None, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "HYPERPRUNE_DATA"}
    if data is not None:
        env["HYPERPRUNE_DATA"] = str(data)
    done = subprocess.run([sys.executable, str(REPO / "examples" / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_own_lstm_optuna_prunes_by_the_ls_distance_in_rounds(data_dir, tmp_path):
    out = run_example("own_lstm_optuna.py", "--quick", "--cache", str(tmp_path / "cache"), data=data_dir, cwd=tmp_path)
    assert "data: PTB" in out and "dense reference: epochs [0, 1]" in out
    rows = re.findall(r"^\s+(\d+)\s+(COMPLETE|PRUNED)\s+((?:\d+\.\d+ )*\d+\.\d+)", out, re.MULTILINE)
    assert len(rows) == 4
    # 4 trials: round 0 keeps 4 // 2 + 1 = 3 after epoch 0, round 1 keeps 2 after epoch 1
    epochs = sorted(len(distances.split()) for _, _, distances in rows)
    assert epochs == [1, 2, 2, 2] and [state for _, state, _ in rows].count("COMPLETE") == 2
    assert "7 of 8 epochs trained" in out
    # a second run reads the dense spectra from the cache
    again = run_example("own_lstm_optuna.py", "--quick", "--pruner", "hyperband", "--cache", str(tmp_path / "cache"),
                        data=data_dir, cwd=tmp_path)
    assert re.search(r"dense reference: epochs \[0, 1\] \(0\.\d s", again)


@pytest.mark.slow
def test_own_loop_sparse_keeps_the_exact_sparsity(data_dir, tmp_path):
    out = run_example("own_loop_sparse.py", "--quick", data=data_dir, cwd=tmp_path)
    # 2 layers x (weight_ih + weight_hh) of (64, 16): 4096 masked weights, 67% of them pruned
    assert "sparsity of the masked weights: 0.670 (1352 of 4096 kept)" in out
    zeros = int(re.search(r"exact zeros in the masked weights: (\d+)", out).group(1))
    assert zeros >= 4096 - 1352
    assert re.search(r"epoch 1: .* weights regrown", out) and "LS distance" in out


@pytest.mark.slow
def test_the_examples_fall_back_to_their_built_in_text(tmp_path):
    out = run_example("own_loop_sparse.py", "--quick", data=None, cwd=tmp_path)
    assert "data: built-in text" in out and "sparsity of the masked weights: 0.670" in out
