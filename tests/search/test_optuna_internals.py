"""`search/optuna_internals.py` is the only reader of Optuna's private names (its docstring says why
each is read), so an Optuna release that renames one breaks one file."""

from __future__ import annotations

import ast
from pathlib import Path

import hyperprune

SRC = Path(hyperprune.__file__).parent
HOME = SRC / "search" / "optuna_internals.py"
# The private attributes of Optuna's objects that the package needs (see HOME's docstring).
PRIVATE_ATTRIBUTES = {"_storage", "_study_id", "_trial_id", "_all_grids", "_search_space"}


def private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    # Our own classes may name an attribute so (AshaTrial keeps `self._storage`): `self.X` counts
    # only where this file never assigns `self.X`, as an Optuna subclass reading Optuna's would.
    own = {t.attr for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
           for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
           if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            if not (isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr in own):
                uses.append(f"{node.lineno}: .{node.attr}")
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for module in modules:
            if module.startswith("optuna") and any(part.startswith("_") for part in module.split(".")):
                uses.append(f"{node.lineno}: import {module}")
    return uses


def test_only_optuna_internals_reads_optunas_private_names():
    found = {str(path.relative_to(SRC)): private_uses(path) for path in sorted(SRC.rglob("*.py")) if path != HOME}
    assert {path: uses for path, uses in found.items() if uses} == {}
    assert private_uses(HOME)              # the check sees the reads where they are
