"""Every data test runs with its own empty user cache, no $HYPERPRUNE_DATA and no network.

The real corpora come from the `data_dir` fixture of tests/conftest.py (skips when absent)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """User cache in a tmp dir (never the real home); only file:// URLs may be opened."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("HYPERPRUNE_DATA", raising=False)
    real_urlopen = urllib.request.urlopen

    def offline_urlopen(url, *args, **kwargs):
        if str(url).startswith("file:"):
            return real_urlopen(url, *args, **kwargs)
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline_urlopen)
    return cache / "hyperprune"


@pytest.fixture
def make_folder(tmp_path):
    """make_folder(name, {file: str | bytes}) -> a folder holding those files."""
    def make(name: str, files: dict[str, str | bytes]) -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (folder / file_name).write_bytes(data)
        return folder
    return make
