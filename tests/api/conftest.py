"""Fixtures for the API tests: a probe of the user world's tokens."""

from __future__ import annotations

import pytest
from user_world import token_stream


@pytest.fixture
def probe():
    from hyperprune import make_probe
    return make_probe(token_stream(600, seed=1), n_sequences=2, length=20, warmup=5)
