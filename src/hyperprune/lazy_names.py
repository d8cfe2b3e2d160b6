"""A package's public names imported on first use (PEP 562), the one way `hyperprune` and
`hyperprune.search` do it: importing the package, or one of its modules, then loads only what is
used, so `import hyperprune` pulls in neither torch nor optuna and the modules of a package can
import each other at their top without a cycle through its `__init__`."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_names(package: str, table: dict[str, tuple[str, str]],
               namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` of `package`, whose public names are `table`'s
    (name -> (module, attribute)); a name once loaded is stored in `namespace`, the package's
    globals, so later look-ups do not come here again."""
    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        module, attribute = table[name]
        value = getattr(importlib.import_module(module), attribute)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
