"""The one encoder of numbers for run files: a non-finite float becomes null, at any depth."""

from __future__ import annotations

import json
import math

from hyperprune.strict_json import finite_or_null


def test_non_finite_floats_become_null_at_any_depth():
    value = {"ppl": math.inf, "epochs": {"2": [1.5, -math.inf, math.nan]}, "pair": (3, math.nan),
             "n": 7, "ok": True, "name": "x", "none": None}
    assert finite_or_null(value) == {"ppl": None, "epochs": {"2": [1.5, None, None]}, "pair": [3, None],
                                     "n": 7, "ok": True, "name": "x", "none": None}
    json.dumps(finite_or_null(value), allow_nan=False)        # strict JSON: would raise on inf / NaN


def test_finite_numbers_and_scalars_pass_through_unchanged():
    assert finite_or_null(2.5) == 2.5
    assert finite_or_null(math.inf) is None
    assert finite_or_null(-0.0) == 0.0 and math.copysign(1, finite_or_null(-0.0)) == -1
    assert finite_or_null(10**400) == 10**400                 # an int is never non-finite
