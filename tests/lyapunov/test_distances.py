"""Distances between spectra, by name."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import wasserstein_distance

from hyperprune.errors import UserError
from hyperprune.lyapunov import DISTANCES, LyapunovSpectrum, distance

a = torch.tensor([0.5, -0.25, -1.0, -2.0], dtype=torch.float64)
b = torch.tensor([0.25, 0.0, -1.5, -2.0], dtype=torch.float64)


def test_registry_holds_the_four_distances():
    assert set(DISTANCES) >= {"l2", "l2-topk", "relative", "wasserstein"}


def test_l2_family():
    assert distance("l2", a, b) == pytest.approx(math.sqrt(0.0625 + 0.0625 + 0.25))
    assert distance("l2-topk", a, b, k=2) == pytest.approx(math.sqrt(0.0625 + 0.0625))
    assert distance("relative", a, b) == pytest.approx(math.sqrt(0.375) / math.sqrt(0.0625 + 2.25 + 4))


def test_wasserstein_equal_and_unequal_sizes():
    # equal sizes: mean |sorted a - sorted b|
    assert distance("wasserstein", a, b) == pytest.approx(float((a.sort().values - b.sort().values).abs().mean()))
    c = torch.tensor([0.3, -0.7, -1.1, -1.9, -2.6, 0.1], dtype=torch.float64)
    assert distance("wasserstein", a, c) == pytest.approx(wasserstein_distance(a.numpy(), c.numpy()), abs=1e-14)
    assert distance("wasserstein", c[:3], a) == pytest.approx(wasserstein_distance(c[:3].numpy(), a.numpy()), abs=1e-14)


def test_spectra_are_averaged_over_sequences():
    per_seq = torch.stack([a, a + 0.5])                              # mean is a + 0.25
    result = LyapunovSpectrum(exponents=per_seq)
    assert distance("l2", result, a) == pytest.approx(0.25 * 2)
    assert distance("l2", per_seq, a) == pytest.approx(0.25 * 2)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UserError, match="did you mean 'wasserstein'"):
        distance("wasserstien", a, b)


def test_unequal_lengths_are_refused_by_l2():
    with pytest.raises(UserError, match="equal length"):
        distance("l2", a, b[:3])


def test_non_finite_exponents_propagate_with_a_warning():
    bad = a.clone()
    bad[3] = -math.inf
    with pytest.warns(RuntimeWarning, match="candidate has 1 non-finite"):
        assert distance("l2", bad, b) == math.inf
    with pytest.warns(RuntimeWarning, match="dense has 1 non-finite"):
        assert math.isinf(distance("wasserstein", a, bad))
    nan = a.clone()
    nan[0] = math.nan
    with pytest.warns(RuntimeWarning):
        assert math.isnan(distance("relative", nan, b))
