"""The public names as a type checker sees them: the `TYPE_CHECKING` imports of the lazily loading
`hyperprune/__init__.py`, and the installed `py.typed`, checked by running mypy on a user's script."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import hyperprune

# A user's typed code: every line here must type-check as written.
GOOD = '''
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import hyperprune
from hyperprune import LyapunovSpectrum, Probe, SearchConfig, SearchResults, SparseConfig, SparseEngine


def search(path: str, run_dir: Path) -> tuple[SearchResults, SearchResults]:
    cfg: SearchConfig = hyperprune.load_search_config(path, [f"run_dir={run_dir}"])
    ran: SearchResults = hyperprune.run_search(cfg, verbose=False)
    return ran, hyperprune.load_results(run_dir)


def winner_id(results: SearchResults) -> int | None:
    status: str = results.status
    return None if results.winner is None or status != "complete" else int(results.winner["id"])


def measure(lstm: nn.LSTM, ids: torch.Tensor) -> float:
    probe: Probe = hyperprune.make_probe(ids, n_sequences=2, length=10, warmup=3)
    result: LyapunovSpectrum = hyperprune.spectrum(lstm, probe, convention="reference")
    return hyperprune.distance("l2", result, result)


def engines(model: nn.Module) -> list[SparseEngine]:
    return [hyperprune.sparse_engine(model, 0.5, epochs=2, steps_per_epoch=4, death="magnitude"),
            SparseEngine(model, SparseConfig(sparsity=0.5), epochs=2, steps_per_epoch=4)]
'''

# The same names used wrongly: line -> the error mypy must report there.
BAD = '''
import hyperprune

results = hyperprune.load_results("runs/demo")
print(results.winer)
ran = hyperprune.run_search(hyperprune.load_search_config("configs/demo.yaml"))
print(ran["winner"])
print(hyperprune.spectra)
hyperprune.sparse_engine(None, "0.5", epochs=1, steps_per_epoch=1)
'''
BAD_ERRORS = {
    5: '"SearchResults" has no attribute "winer"',
    7: 'Value of type "SearchResults" is not indexable',
    8: 'Module has no attribute "spectra"',
    9: 'Argument 2 to "sparse_engine" has incompatible type "str"; expected "float"',
}


def type_checking_imports() -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) of the imports under `if TYPE_CHECKING:` in hyperprune/__init__.py."""
    tree = ast.parse(Path(hyperprune.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    return {alias.asname or alias.name: (imp.module, alias.name)
            for imp in block.body if isinstance(imp, ast.ImportFrom) for alias in imp.names}


def test_type_checkers_see_exactly_the_lazily_loaded_names():
    assert type_checking_imports() == hyperprune._LAZY
    assert (Path(hyperprune.__file__).parent / "py.typed").is_file()


def mypy(tmp_path: Path, name: str, source: str) -> subprocess.CompletedProcess:
    script = tmp_path / name
    script.write_text(source)
    # none of the checkout's settings: a user's defaults, except that torch's and optuna's own code is
    # not analysed (their names are Any here): it took most of the ~20 s, and the test is about ours
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n\n[mypy-torch.*,optuna.*]\nfollow_imports = skip\n")
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir",
                           str(tmp_path / "cache"), "--no-color-output", "--show-error-codes", str(script)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (it is in the `test` extra: pip install -e '.[test]')")
def test_mypy_checks_a_users_script_against_the_public_names(tmp_path):
    good = mypy(tmp_path, "good.py", GOOD)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = mypy(tmp_path, "bad.py", BAD)              # the cache of the first run makes this one quick
    errors = {int(line.split(":")[1]): line for line in bad.stdout.splitlines() if ": error:" in line}
    assert bad.returncode == 1 and sorted(errors) == sorted(BAD_ERRORS), bad.stdout + bad.stderr
    for line, message in BAD_ERRORS.items():
        assert message in errors[line], errors[line]
