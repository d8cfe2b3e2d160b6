"""The names under which a search finds its cached work stay the same across refactors: a changed
tag would leave every dense model and spectrum cached before it unfound, and train them again.

The values were computed by the code at 82fe126, before the content hash had one home."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from hyperprune.lyapunov import make_probe
from hyperprune.lyapunov.dense_spectra import DenseSpectra, content_hash
from hyperprune.search.spectrum import spectrum_tag
from hyperprune.search.space import SearchSpace

from tests.search.conftest import tiny_search


def test_a_dense_spectra_file_keeps_its_probe_tag_and_tag():
    dense = DenseSpectra({"tokens": [[1, 2]], "warmup": 0}, "reference", {"k": 4, "seed": 0},
                         model_fingerprint="abc")
    assert dense.probe_tag == "4d545f95b3"
    assert dense.tag == "27de26b9c38b"


def test_a_searchs_spectrum_tag_is_unchanged():
    cfg = tiny_search(Path("/corpus"), Path("/run"))
    probe = make_probe(torch.arange(500) % 37, n_sequences=2, length=20, seed=0)
    assert spectrum_tag(cfg, probe) == "84fd10ba45"


def test_a_candidates_fingerprint_is_unchanged():
    # proposals collapse duplicates by it, and ASHA stores it on each trial
    space = SearchSpace.from_config(tiny_search(Path("/corpus"), Path("/run")))
    assert space.fingerprint({"sparse.death_rate": 0.6}) == "351bbc5e0639d9df"


def test_the_content_hash_is_sha256_of_canonical_json():
    data = {"b": [1, 2.5, None], "a": {"z": True, "path": Path("/x")}, "n": float("inf")}
    # sorted keys, str() for what JSON lacks, Infinity as json.dumps writes it
    text = '{"a": {"path": "/x", "z": true}, "b": [1, 2.5, null], "n": Infinity}'
    assert hashlib.sha256(text.encode()).hexdigest().startswith("f8e0ddbf6efde0ac")
    assert content_hash(data) == "f8e0ddbf6efd"
    assert content_hash(data, 16) == "f8e0ddbf6efde0ac"
