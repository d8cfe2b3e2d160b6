"""Numbers for strict JSON: the run files (results.json, log.jsonl, a candidate's score) hold a
diverged model's inf or NaN as null.

Python's `json` writes `Infinity` and `NaN`, which are not JSON: a browser, `jq` or another
language refuses the whole file. Bottom layer, so every writer of a run file turns them into null
the same way. (`LyapunovSpectrum` keeps its own encoding, 'inf' as a string, because it reads the
exponent back; a null here means "no number".)
"""

from __future__ import annotations

import math
from typing import Any


def finite_or_null(value: Any) -> Any:
    """`value` with every non-finite float, also inside dicts, lists and tuples (which become lists),
    replaced by None; anything else is returned as it is.

    >>> finite_or_null({"ppl": float("inf"), "scores": (1.5, float("nan")), "epoch": 3})
    {'ppl': None, 'scores': [1.5, None], 'epoch': 3}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value
