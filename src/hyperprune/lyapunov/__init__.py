"""Lyapunov spectra of recurrent maps and networks, and distances between spectra.

    from hyperprune.lyapunov import make_probe, model_spectrum, distance
    probe = make_probe(corpus.valid, n_sequences=2, length=35, seed=0, warmup=10)
    dense = model_spectrum(dense_model, probe, convention="reference")
    cand = model_spectrum(pruned_model, probe, convention="reference")
    distance("l2", cand, dense)

    # a torch nn.LSTM / nn.GRU / nn.RNN, or a user's model holding one (torch_modules):
    module_spectrum(user_lm, probe, convention="reference")
    # the dense model's spectrum per epoch, and a candidate's distance to it (dense_spectra):
    dense = dense_reference(dense_model, probe, epochs=5, train_epoch=train_one_epoch, cache="cache/")
    spectrum_distance(model, dense, probe, epoch=2)

    # any map s' = F(s, x), state (B, n) or a tuple of (B, n_i):
    lyapunov_spectrum(step, state, inputs, k=None, warmup=0, qr_every=1, log_base=math.e)

Modules: spectrum (the QR engine), tangents (autograd J V), analytic (LSTM/GRU/RNN/RHN J V),
conventions (model_spectrum: standard and the LSH paper's reference), probe, distances, result,
display (text table and figure), torch_modules (stock torch RNN modules), dense_spectra (the dense
reference per epoch).
"""

from hyperprune.lyapunov.analytic import AnalyticTangent
from hyperprune.lyapunov.conventions import CONVENTIONS, model_spectrum
from hyperprune.lyapunov.dense_spectra import DenseSpectra, dense_reference, spectrum_distance
from hyperprune.lyapunov.display import plot_spectrum, spectrum_report
from hyperprune.lyapunov.distances import DISTANCES, distance, register_distance
from hyperprune.lyapunov.probe import Probe, make_probe
from hyperprune.lyapunov.result import LyapunovSpectrum
from hyperprune.lyapunov.spectrum import initial_frame, lyapunov_spectrum, qr_positive
from hyperprune.lyapunov.tangents import AutogradTangent, TangentMap
from hyperprune.lyapunov.torch_modules import module_spectrum

__all__ = [
    "CONVENTIONS",
    "DISTANCES",
    "AnalyticTangent",
    "AutogradTangent",
    "DenseSpectra",
    "LyapunovSpectrum",
    "Probe",
    "TangentMap",
    "dense_reference",
    "distance",
    "initial_frame",
    "lyapunov_spectrum",
    "make_probe",
    "model_spectrum",
    "module_spectrum",
    "plot_spectrum",
    "qr_positive",
    "register_distance",
    "spectrum_distance",
    "spectrum_report",
]
