"""Fixtures: run directories holding a synthetic search record (complete, running)."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic_search import make_results, write_run


@pytest.fixture
def complete_run(tmp_path) -> Path:
    return write_run(tmp_path / "complete", make_results("complete"))


@pytest.fixture
def running_run(tmp_path) -> Path:
    return write_run(tmp_path / "running", make_results("running"))
