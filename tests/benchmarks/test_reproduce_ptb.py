"""benchmarks/reproduce_ptb.py's replay scores an epoch the way the released code does."""

from __future__ import annotations

import math

import pytest


def _trajectory(ppl: list[float], spectra: list[list[float]]) -> dict:
    return {"failure": None, "epochs": {str(e): {"valid_ppl": p, "spectra": {"reference": s}}
                                        for e, (p, s) in enumerate(zip(ppl, spectra), start=1)}}


@pytest.fixture(scope="module")
def reproduce_ptb():
    from tests.benchmarks.conftest import load_script
    return load_script("reproduce_ptb")


def test_replay_keeps_half_plus_one_and_scores_the_last_improving_epoch(reproduce_ptb):
    assert reproduce_ptb.ROUNDS["keep"] == "half+1"
    candidate = _trajectory([5.0, 6.0, 4.0], [[1.0, 0.0], [9.0, 9.0], [2.0, 0.0]])
    dense = _trajectory([7.0, 3.0, 3.5], [[0.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    assert [reproduce_ptb.scored_epoch(candidate, e) for e in (1, 2, 3)] == [1, 1, 3]
    loss = reproduce_ptb.score_fn("loss", None, dense)
    assert [loss(candidate, e) for e in (1, 2, 3)] == [5.0, 5.0, 4.0]
    ls = reproduce_ptb.score_fn("ls", "reference", dense)
    # epoch 2: the candidate's epoch 1 (6.0 did not improve on 5.0) against the dense epoch 2
    assert ls(candidate, 2) == pytest.approx(math.hypot(1.0, -1.0))
    # epoch 3: the candidate improved (4.0), the dense did not (3.5 > 3.0): its epoch 2
    assert ls(candidate, 3) == pytest.approx(math.hypot(2.0, -1.0))
