"""The layer picture of docs/design.md holds: every `hyperprune` import, eager or inside a function,
goes to the module's own layer or one to its left."""

from __future__ import annotations

import ast
from pathlib import Path

import hyperprune

SRC = Path(hyperprune.__file__).parent
# errors config files perplexity strict_json registry <- data <- models <- sparse <- train <- lyapunov <- search
#   <- report <- pools <- cli
LAYERS = ["errors", "config", "files", "perplexity", "strict_json", "registry", "data", "models", "sparse", "train",
          "lyapunov", "search", "report", "pools", "cli"]
BOTTOM = {"errors", "config", "files", "perplexity", "strict_json", "registry"}
TOP = {"train.status", "search.status"}         # `hyperprune status` reads both kinds of run directory


def layer(module: str) -> int:
    """The rank of dotted `module` (below `hyperprune`): the bottom modules share rank 0."""
    parts = module.split(".")
    if ".".join(parts[:2]) in TOP:
        return LAYERS.index("cli")
    return 0 if parts[0] in BOTTOM else LAYERS.index(parts[0])


def imported(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hyperprune."):
            names.append(node.module.removeprefix("hyperprune."))
        elif isinstance(node, ast.Import):
            names += [a.name.removeprefix("hyperprune.") for a in node.names if a.name.startswith("hyperprune.")]
    return names


def test_every_import_goes_down_or_across():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        if module in ("__init__", "__main__"):
            continue                   # the public API sits on top of everything
        for name in imported(path):
            if layer(name) > layer(module):
                wrong.append(f"{module} imports {name}")
    assert wrong == []
    assert len(list(SRC.rglob("*.py"))) > 60       # the walk saw the package
