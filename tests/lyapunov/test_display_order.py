"""Exponents in QR order vs largest first: the reference convention's identity frame, `--k`, the plot."""

from __future__ import annotations

import math

import pytest
import torch

from hyperprune.errors import UserError
from hyperprune.lyapunov import LyapunovSpectrum, make_probe, model_spectrum, spectrum_report
from hyperprune.lyapunov.display import exponent_unit, spectrum_figure


def qr_ordered() -> LyapunovSpectrum:
    # as an identity frame leaves them: unit order, not largest first
    return LyapunovSpectrum(exponents=torch.tensor([[-1.0, 0.5, -0.2], [-1.2, 0.3, -0.4]]), n=3, log_base=2.0,
                            init="identity", convention="reference")


def test_order_and_sorted_mean_leave_the_papers_vector_alone():
    result = qr_ordered()
    assert result.order.tolist() == [1, 2, 0]
    assert torch.allclose(result.sorted_mean, torch.tensor([0.4, -0.3, -1.1], dtype=torch.float64))
    assert torch.allclose(result.mean, torch.tensor([-1.1, 0.4, -0.3], dtype=torch.float64))   # QR order kept
    assert not result.is_descending
    nan_last = LyapunovSpectrum(exponents=torch.tensor([[float("nan"), -1.0, 2.0]]))
    assert nan_last.order.tolist() == [2, 1, 0]


def test_the_table_is_largest_first_and_names_the_qr_position():
    lines = spectrum_report(qr_ordered()).splitlines()
    assert "3 of 3 exponents, in log2 per step, largest first (column 'qr': the position in QR order, " \
           "from the identity frame)" in lines[0]
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#"))
    assert lines[header].split() == ["#", "qr", "mean", "std", "seq", "0", "seq", "1"]
    rows = [line.split() for line in lines[header + 2:]]
    assert rows == [["1", "2", "0.400000", "0.100000", "0.500000", "0.300000"],
                    ["2", "3", "-0.300000", "0.100000", "-0.200000", "-0.400000"],
                    ["3", "1", "-1.100000", "0.100000", "-1.000000", "-1.200000"]]
    descending = LyapunovSpectrum(exponents=torch.tensor([[0.5, -0.2]]), n=2)
    assert "qr" not in spectrum_report(descending)


def test_the_figure_is_sorted_with_units_and_a_legend():
    fig = spectrum_figure(qr_ordered())
    ax = fig.axes[0]
    assert ax.get_ylabel() == "\u03bb_i (log2 per step)"
    assert ax.get_xlabel() == "exponent rank i (largest first, 3 of 3)"
    mean_line = [line for line in ax.get_lines() if line.get_label().startswith("mean")][0]
    assert mean_line.get_ydata().tolist() == pytest.approx([0.4, -0.3, -1.1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["each sequence",
                                                                  "mean over 2 sequence(s), +- std"]
    assert exponent_unit(math.e) == "ln per step" and exponent_unit(2.0) == "log2 per step"


def test_reference_refuses_a_k_below_the_state(small_model, token_ids):
    model = small_model("lstm-small")
    probe = make_probe(token_ids(), 1, 6, warmup=2)
    with pytest.raises(UserError) as err:
        model_spectrum(model, probe, convention="reference", k=4)
    n = sum(layer.hidden_size for layer in model.layers)
    assert str(err.value) == (f"k = 4 of {n} exponents with the identity frame: the leading k need init=random; "
                              "the paper's reference uses all exponents (leave k out)")
    # a random frame finds the leading ones: allowed, and recorded
    result = model_spectrum(model, probe, convention="reference", k=4, init="random")
    assert result.k == 4 and result.init == "random"


def test_l2_topk_compares_the_largest_exponents_not_the_first_columns():
    from hyperprune.lyapunov import distance
    a = torch.tensor([-1.0, 0.5, -0.2], dtype=torch.float64)    # QR order from an identity frame
    b = torch.tensor([0.3, -0.9, -0.1], dtype=torch.float64)
    # largest two: a -> (0.5, -0.2), b -> (0.3, -0.1): sqrt(0.2^2 + 0.1^2)
    assert distance("l2-topk", a, b, k=2) == pytest.approx(math.sqrt(0.04 + 0.01))
    assert distance("l2", a, b) == pytest.approx(math.sqrt(1.3 ** 2 + 1.4 ** 2 + 0.1 ** 2))   # unsorted
