"""SIGTERM, as a cluster scheduler sends it on pre-emption, stops a search as Ctrl-C does: one line,
its job given back, its locks released, and `status` says stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import yaml

from hyperprune.cli import main
from hyperprune.files import LOCK_NAME
from tests.search.conftest import tiny_search_raw


def test_sigterm_stops_a_search_cleanly_with_one_line(tiny_corpus_dir, tmp_path, capsys):
    config = tmp_path / "search.yaml"
    raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "run", train={"epochs": 30})   # far longer than the test
    config.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    search = subprocess.Popen([sys.executable, "-m", "hyperprune.cli", "search", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in search.stdout:                      # wait until it trains: its first epoch line
            if "| epoch" in line:
                break
        search.send_signal(signal.SIGTERM)
        _, err = search.communicate(timeout=120)
    finally:
        search.kill()
    assert search.returncode == 143
    assert err.strip().splitlines() == ["hyperprune: interrupted; run the same command to resume"]
    run = tmp_path / "run"
    assert not (run / LOCK_NAME).exists()
    assert main(["status", str(run), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "stopped" and status["running"] == [] and status["gone"] == []
