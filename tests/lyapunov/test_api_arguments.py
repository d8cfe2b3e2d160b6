"""`hyperprune.spectrum` on bad arguments: one-line ValueErrors naming the argument, and a
half-precision module measured as a float32 copy (issue 21, section 5)."""

from __future__ import annotations

import pytest
import torch

from hyperprune import UserError, spectrum


@pytest.fixture
def lstm():
    torch.manual_seed(0)
    return torch.nn.LSTM(4, 8)


@pytest.mark.parametrize("k, expected", [
    ("five", "k (number of exponents) = 'five' is not a whole number; allowed: a whole number >= 1, or None for all"),
    (5.5, "k (number of exponents) = 5.5 is not a whole number; allowed: a whole number >= 1, or None for all"),
    (True, "k (number of exponents) = True is not a whole number"),
])
def test_k_must_be_a_whole_number(lstm, k, expected):
    with pytest.raises(ValueError) as err:          # a UserError is a ValueError
        spectrum(lstm, torch.randn(12, 2, 4), k=k)
    assert isinstance(err.value, UserError) and str(err.value).startswith(expected)


def test_a_misspelled_keyword_is_named_against_spectrum(lstm):
    with pytest.raises(ValueError) as err:
        spectrum(lstm, torch.randn(12, 2, 4), warmpu=3)
    assert str(err.value).startswith("spectrum() got an unknown argument 'warmpu' (did you mean 'warmup'?); "
                                     "allowed: convention, rnn, embedding, warmup, k, ")


def test_a_half_precision_lstm_is_measured_in_float32(lstm):
    import copy
    x = torch.randn(12, 2, 4).half()
    half = copy.deepcopy(lstm).half()
    rounded = copy.deepcopy(half).float()            # the float16-rounded weights, in float32
    with pytest.warns(UserWarning, match="the model's weights are torch.float16; its spectrum is measured on a "
                                         "float32 copy"):
        measured = spectrum(half, x)
    assert torch.equal(measured.mean, spectrum(rounded, x.float()).mean)
    assert half.weight_ih_l0.dtype == torch.float16        # the user's module is left as it was
