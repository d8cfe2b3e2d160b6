"""The text table and the figure."""

from __future__ import annotations

import torch

from hyperprune.lyapunov import (
    LyapunovSpectrum,
    make_probe,
    model_spectrum,
    plot_spectrum,
    spectrum_report,
)
from hyperprune.lyapunov.display import kaplan_yorke_dimension


def test_report_shows_settings_and_numbers(small_model, token_ids):
    result = model_spectrum(small_model("gru-small"), make_probe(token_ids(), 2, 10, warmup=3),
                            convention="reference")
    text = spectrum_report(result, rows=6)
    assert "reference convention, analytic tangents, 128 of 128 exponents, in log2 per step, largest first" in text
    assert "2 sequence(s) x 10 measured steps" in text and "J^T products" in text
    assert f"{float(result.sorted_mean[0]):.6f}" in text and "..." in text
    assert len(text.splitlines()) < 20


def test_report_warns_about_non_finite_exponents():
    result = LyapunovSpectrum(exponents=torch.tensor([[0.1, float("-inf")]]), issues=["sequence 0: 1 exponent(s) -inf"])
    assert "WARNING sequence 0" in spectrum_report(result)


def test_plot_writes_an_image(tmp_path):
    result = LyapunovSpectrum(exponents=torch.tensor([[0.3, -0.1, -1.0], [0.2, -0.2, -1.1]]))
    path = plot_spectrum(result, tmp_path / "figs" / "spectrum.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_kaplan_yorke_dimension():
    # Henon-like: 0.42 - 1.62 -> 1 + 0.42 / 1.62
    assert abs(kaplan_yorke_dimension(torch.tensor([0.42, -1.62], dtype=torch.float64)) - (1 + 0.42 / 1.62)) < 1e-12
    assert kaplan_yorke_dimension(torch.tensor([-0.1, -0.2])) == 0.0
