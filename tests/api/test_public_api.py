"""The public names of `hyperprune`, and docs/api.md, whose examples run here as doctests."""

from __future__ import annotations

import doctest
import importlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import hyperprune
import hyperprune.errors

REPO = Path(__file__).resolve().parents[2]


def test_import_hyperprune_loads_neither_torch_nor_optuna():
    code = "import sys, hyperprune; print('torch' in sys.modules, 'optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_public_name_resolves_and_unknown_ones_do_not():
    # each name is the very object of the module it is loaded from, not merely something
    expected = {"UserError": hyperprune.errors.UserError}
    expected.update({name: getattr(importlib.import_module(module), attribute)
                     for name, (module, attribute) in hyperprune._LAZY.items()})
    assert sorted([*expected, "__version__"]) == sorted(hyperprune.__all__)
    assert hyperprune.__version__ == importlib.metadata.version("hyperprune")
    for name in expected:
        assert getattr(hyperprune, name) is expected[name], name
    assert hyperprune.spectrum.__name__ == "module_spectrum"
    assert hyperprune.sparse_engine.__module__ == "hyperprune.sparse.engine"
    assert set(hyperprune.__all__) <= set(dir(hyperprune))
    with pytest.raises(AttributeError, match="no attribute 'spectra'"):
        hyperprune.spectra  # noqa: B018


def test_the_pruner_docstring_example_runs():
    import hyperprune.search.optuna_pruner as module
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 5 and result.failed == 0


@pytest.mark.slow
def test_docs_api_md_examples_run(monkeypatch):
    monkeypatch.chdir(REPO)                     # its search example reads configs/demo.yaml
    result = doctest.testfile(str(REPO / "docs" / "api.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted > 60 and result.failed == 0
