"""Probes: the same seeded windows for every network, saved with the result."""

from __future__ import annotations

import json

import pytest
import torch

from hyperprune.data import batchify
from hyperprune.errors import UserError
from hyperprune.lyapunov import Probe, make_probe


def test_first_mode_is_the_papers_first_batch():
    ids = torch.arange(1000)
    probe = make_probe(ids, n_sequences=2, length=35, warmup=10)
    assert probe.tokens.shape == (45, 2) and probe.tokens.dtype == torch.long
    assert torch.equal(probe.tokens, batchify(ids, 2)[:45])
    assert torch.equal(probe.tokens[:, 0], ids[:45])            # sequence 0: the very first tokens
    assert torch.equal(probe.tokens[:, 1], ids[500:545])        # sequence 1: the second half's first
    assert probe.starts == [0, 500] and probe.split_tokens == 1000


def test_random_mode_is_seeded():
    ids = torch.randint(0, 100, (5000,), generator=torch.Generator().manual_seed(0))
    a = make_probe(ids, n_sequences=4, length=20, seed=3, warmup=5, mode="random")
    b = make_probe(ids, n_sequences=4, length=20, seed=3, warmup=5, mode="random")
    c = make_probe(ids, n_sequences=4, length=20, seed=4, warmup=5, mode="random")
    assert torch.equal(a.tokens, b.tokens) and a.starts == b.starts
    assert a.starts != c.starts
    for j, start in enumerate(a.starts):
        assert torch.equal(a.tokens[:, j], ids[start:start + 25])


def test_probe_round_trips_through_json():
    probe = make_probe(torch.arange(300) % 17, n_sequences=3, length=7, warmup=2, seed=5, mode="random")
    again = Probe.from_dict(json.loads(json.dumps(probe.to_dict())))
    assert torch.equal(again.tokens, probe.tokens)
    assert (again.warmup, again.length, again.mode, again.seed, again.starts, again.split_sha1) == \
        (probe.warmup, probe.length, probe.mode, probe.seed, probe.starts, probe.split_sha1)


def test_split_fingerprint_tells_splits_apart():
    assert make_probe(torch.arange(100), 1, 5).split_sha1 != make_probe(torch.arange(1, 101), 1, 5).split_sha1


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_sequences=5, length=30), "do not fit"),
    (dict(mode="last"), "unknown probe mode 'last'"),
    (dict(length=0), "probe length"),
])
def test_bad_probes_are_user_errors(kwargs, match):
    with pytest.raises(UserError, match=match):
        make_probe(torch.arange(100), **kwargs)
