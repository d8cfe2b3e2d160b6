"""A spectrum in the search's Lyapunov settings: measuring one, and the tag that names the settings
it was measured in (the key of the dense reference's spectrum cache).
"""

from __future__ import annotations

import time

from hyperprune.config import to_dict
from hyperprune.lyapunov import LyapunovSpectrum, Probe, model_spectrum
from hyperprune.lyapunov.dense_spectra import content_hash
from hyperprune.train import Trainer


def spectrum_tag(cfg, probe: Probe) -> str:
    """Names a spectrum's settings: the same tag means the same measurement."""
    settings = to_dict(cfg.lyapunov)
    settings.pop("distance")
    settings.pop("later_sequences")    # the probe says how many windows it has (and older tags hold)
    # The dense model has no mask update: before and after it are one state, one cache entry (the
    # tag of the caches written before `measure` existed). The last improving epoch may be another.
    if settings.pop("measure") == "last-improving":
        settings["state"] = "last-improving"
    return content_hash({"settings": settings, "probe": probe.to_dict()}, 10)


def measure(trainer: Trainer, probe: Probe, cfg) -> tuple[LyapunovSpectrum, float]:
    """The spectrum of the trainer's model as evaluated (ASGD averages), and the seconds it took."""
    start = time.perf_counter()
    with trainer.evaluation_weights():
        spectrum = measure_model(trainer.model, probe, cfg)
    return spectrum, time.perf_counter() - start


def measure_model(model, probe: Probe, cfg) -> LyapunovSpectrum:
    """The spectrum of `model` with its weights as they are, in the search's Lyapunov settings."""
    lyap = cfg.lyapunov
    return model_spectrum(model, probe, convention=lyap.convention, k=lyap.k, warmup=lyap.warmup, seed=lyap.seed)
