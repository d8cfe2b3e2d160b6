"""The dependency graph of docs/design.md holds: every `hyperprune` import, eager or inside a
function, `from hyperprune import X` included, follows an edge the graph allows.

A graph, not a total order: `lyapunov` measures any recurrent model, so it needs neither training
nor sparsity, and `sparse` masks any module's weights, so it needs no model of ours. An order would
let both import everything to their left."""

from __future__ import annotations

import ast
from pathlib import Path

import hyperprune

SRC = Path(hyperprune.__file__).parent
# Importable from anywhere; each imports only the others.
BOTTOM = {"errors", "config", "files", "perplexity", "strict_json", "registry", "run_files", "lazy_names"}
# package -> the packages above the bottom it may import (its own modules always).
ALLOWED = {
    "data": set(),
    "models": set(),
    "sparse": set(),                                   # any module's weights: no models
    "train": {"data", "models", "sparse"},
    "lyapunov": {"data", "models"},                    # any recurrent model: no train, no sparse
    "search": {"data", "models", "sparse", "train", "lyapunov"},
    "status": {"train", "search"},                     # `hyperprune status`: reads their run files
    "report": {"train", "lyapunov", "search", "status"},
    "pools": {"lyapunov", "search", "report"},
    "cli": {"data", "models", "sparse", "train", "lyapunov", "search", "status", "report", "pools"},
}
# The one upward name (docs/design.md): a constant in `__init__.py`, which imports nothing eagerly.
UPWARD = {"__version__"}


def node(module: str) -> str:
    """The graph node of dotted `module` (below `hyperprune`): its package, or the bottom module."""
    return module.split(".")[0]


def imported(path: Path) -> list[str]:
    """Every hyperprune module or name `path` imports, dotted below `hyperprune`."""
    names = []
    for node_ in ast.walk(ast.parse(path.read_text())):
        if isinstance(node_, ast.ImportFrom) and node_.module == "hyperprune":
            names += [a.name for a in node_.names]                  # from hyperprune import config
        elif isinstance(node_, ast.ImportFrom) and node_.module and node_.module.startswith("hyperprune."):
            names.append(node_.module.removeprefix("hyperprune."))
        elif isinstance(node_, ast.Import):
            names += [a.name.removeprefix("hyperprune.") for a in node_.names if a.name.startswith("hyperprune.")]
    return names


def may_import(importer: str, name: str) -> bool:
    source, target = node(importer), node(name)
    if source == target or target in BOTTOM or name in UPWARD:
        return True
    return source not in BOTTOM and target in ALLOWED[source]


def test_every_import_follows_an_edge_of_the_graph():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        if module in ("__init__", "__main__"):
            continue                   # the public API sits on top of everything
        wrong += [f"{module} imports {name}" for name in imported(path) if not may_import(module, name)]
    assert wrong == []
    assert len(list(SRC.rglob("*.py"))) > 60       # the walk saw the package


def test_every_package_is_a_node_and_the_graph_flows_one_way():
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in SRC.glob("*.py")} - {"__init__", "__main__"}
    assert packages | {"cli"} == set(ALLOWED) and modules - {"cli"} == BOTTOM
    done: set[str] = set()
    order = []
    while len(done) < len(ALLOWED):                # Kahn: a cycle would leave nodes never ready
        ready = sorted(n for n in ALLOWED if n not in done and ALLOWED[n] <= done)
        assert ready, f"a cycle among {sorted(set(ALLOWED) - done)}"
        done |= set(ready)
        order += ready
    assert order[-1] == "cli"


def test_the_rules_the_graph_states():
    assert not may_import("lyapunov.spectrum", "train.trainer")
    assert not may_import("lyapunov.spectrum", "sparse.engine")
    assert not may_import("sparse.engine", "models.base")
    assert not may_import("search.runner", "status.search")
    assert not may_import("config", "data.corpus")                 # the bottom imports only the bottom
    assert may_import("train.banner", "__version__") and may_import("search.space", "config")
    assert not may_import("train.trainer", "search")               # `from hyperprune import search` counts
    assert "status" in ALLOWED and not (SRC / "train" / "status.py").exists() \
        and not (SRC / "search" / "status.py").exists()            # status lives in one place
