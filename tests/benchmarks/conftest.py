"""The benchmark scripts under benchmarks/ are not a package: tests load them from their files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.pools.conftest import long_pool, long_pool_dir  # noqa: F401  (the synthetic long pool)

REPO = Path(__file__).resolve().parents[2]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pool_ptb():
    return load_script("pool_ptb")


@pytest.fixture(scope="session")
def pool_analysis():
    return load_script("pool_analysis")
