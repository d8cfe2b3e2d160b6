"""The dense model's spectrum at each epoch, and a candidate's distance to it at the same epoch.

LSH (Zheng & Shlizerman 2025, arXiv 2506.07975) ranks a pruned candidate after epoch e by the
distance between its Lyapunov spectrum and the *dense* network's spectrum after the same epoch e.
So the reference is a set of spectra, one per epoch, all measured on one probe with one set of
settings; `spectrum_distance` measures the candidate with exactly those settings.

    dense = dense_reference(dense_model, probe, epochs=5, train_epoch=train_one_epoch, cache="lsh-cache")
    d = spectrum_distance(model, dense, probe, epoch=2)      # float; a one-line UserError if not finite

`dense_reference` takes the dense network in one of these forms:
  - a module plus `train_epoch(model, epoch)` and `epochs`: it trains the module epoch by epoch
    (epochs 0 .. E-1, as a user's `for epoch in range(E)` loop does) and records its spectrum after
    each, the same point in training at which the candidate reports epoch e;
  - a sequence of modules (index = epoch), a mapping {epoch: module}, or a callable epoch -> module
    with `epochs`: checkpoints the user saved while training the dense model;
  - a module alone: one spectrum used for every epoch (a fixed reference, e.g. a trained dense
    model). This departs from the paper's same-epoch comparison; `DenseSpectra.fixed` says so.
More epochs can be added later with `DenseSpectra.record(model, epoch)`.

With `cache=DIR`, the spectra are kept in `DIR/<name>-<tag>.json`, where the tag hashes the probe,
the convention and every spectrum setting, plus the dense module's weights as given (before
training, for the train_epoch form): a later call with the same inputs reads the file and trains
nothing; a different probe, convention or initial dense model gets a file of its own. The training
recipe cannot be seen from here: change `name` when it changes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from hyperprune.config import check_choice
from hyperprune.errors import UserError
from hyperprune.files import atomic_write_text
from hyperprune.lyapunov.conventions import CONVENTIONS
from hyperprune.lyapunov.distances import DISTANCES, distance as spectra_distance
from hyperprune.lyapunov.probe import Probe
from hyperprune.lyapunov.result import LyapunovSpectrum
from hyperprune.lyapunov.torch_modules import as_probe, find_embedding, find_rnn, module_spectrum
from hyperprune.models.base import RecurrentLM

# Settings that change the numbers, so belong to the reference's identity (method does not: the
# analytic and autograd tangents agree to rounding).
SPECTRUM_SETTINGS = ("k", "warmup", "tangent_warmup", "qr_every", "log_base", "frame_dtype", "init", "seed")
ANY_EPOCH = -1        # the key of a fixed reference's one spectrum


def content_hash(data: Any, n: int = 12) -> str:
    """The first `n` hex digits of the sha256 of `data` as canonical JSON (sorted keys, `str` for
    anything JSON lacks). The one content hash: the dense spectra's tags here and the search's dense
    cache, spectrum tags and candidate fingerprints; a change to it would orphan every cache entry."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:n]


def weights_fingerprint(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def probe_record(model: nn.Module, probe: Probe | Tensor, embedding: nn.Module | None, warmup: int | None) -> dict:
    """The probe as recorded in a spectrum (tokens, or a fingerprint of features), time first."""
    if isinstance(probe, Probe) or isinstance(model, RecurrentLM):
        if not isinstance(probe, Probe):
            raise UserError(f"a {type(model).__name__} reads token ids: pass a Probe (make_probe)")
        return probe.to_dict()
    rnn = find_rnn(model)
    if embedding is None and not probe.is_floating_point():
        embedding = find_embedding(model, rnn)
    return as_probe(probe, rnn, embedding, warmup).to_dict()


class DenseSpectra:
    """The dense network's spectra by epoch, with the probe and settings they were measured with."""

    def __init__(self, probe: dict, convention: str, settings: dict[str, Any], *, name: str = "dense",
                 model_fingerprint: str = "", path: Path | None = None):
        self.probe = probe
        self.convention = convention
        self.settings = dict(settings)
        self.name = name
        self.model_fingerprint = model_fingerprint
        self.path = path
        self.spectra: dict[int, LyapunovSpectrum] = {}

    # ---- identity ---------------------------------------------------------------------------

    @property
    def probe_tag(self) -> str:
        return content_hash(self.probe, 10)

    @property
    def tag(self) -> str:
        """Names the measurement: the same tag means the same probe, convention, settings, dense model."""
        return content_hash({"probe": self.probe, "convention": self.convention, "settings": self.settings,
                             "model": self.model_fingerprint}, 12)

    @property
    def fixed(self) -> bool:
        """True when one spectrum stands for every epoch (not the paper's same-epoch comparison)."""
        return ANY_EPOCH in self.spectra

    @property
    def epochs(self) -> list[int]:
        return sorted(e for e in self.spectra if e != ANY_EPOCH)

    def spectrum_options(self) -> dict[str, Any]:
        return {"convention": self.convention, **{k: v for k, v in self.settings.items() if v is not None}}

    # ---- spectra ----------------------------------------------------------------------------

    def measure(self, model: nn.Module, probe: Probe | Tensor, *, rnn: str | None = None,
                embedding: nn.Module | None = None) -> LyapunovSpectrum:
        """`model`'s spectrum with this reference's settings, after checking the probe is the same one."""
        self.check_probe(model, probe, embedding)
        return module_spectrum(model, probe, rnn=rnn, embedding=embedding, **self.spectrum_options())

    def check_probe(self, model: nn.Module, probe: Probe | Tensor, embedding: nn.Module | None = None) -> None:
        record = probe_record(model, probe, embedding, self.settings.get("warmup"))
        if content_hash(record, 10) != self.probe_tag:
            raise UserError(f"the dense reference was measured on probe {self.probe_tag}, this model on probe "
                            f"{content_hash(record, 10)}; allowed: the same probe (same tokens or features, "
                            "warm-up and length) for the dense model and every candidate")

    def record(self, model: nn.Module, epoch: int | None, probe: Probe | Tensor | None = None, *,
               rnn: str | None = None, embedding: nn.Module | None = None) -> LyapunovSpectrum:
        """Measure the dense `model` now and keep it as the spectrum of `epoch` (None: every epoch)."""
        spectrum = self.measure(model, self.probe_input() if probe is None else probe, rnn=rnn, embedding=embedding)
        self.spectra[ANY_EPOCH if epoch is None else int(epoch)] = spectrum
        self.save()
        return spectrum

    def probe_input(self) -> Probe:
        if "tokens" not in self.probe:
            raise UserError("this dense reference was measured on features, which it keeps only as a "
                            "fingerprint; pass the same features again")
        return Probe.from_dict(self.probe)

    def spectrum(self, epoch: int | None) -> LyapunovSpectrum:
        if self.fixed:
            return self.spectra[ANY_EPOCH]
        if epoch is None or int(epoch) not in self.spectra:
            raise UserError(f"the dense reference has no spectrum at epoch {epoch}; it has epochs "
                            f"{self.epochs or 'none'}; allowed: one of them (record more with "
                            "DenseSpectra.record(dense_model, epoch))")
        return self.spectra[int(epoch)]

    # ---- the cache file ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"name": self.name, "tag": self.tag, "convention": self.convention, "settings": self.settings,
                "model_fingerprint": self.model_fingerprint, "probe": self.probe,
                "spectra": {str(e): s.to_dict() for e, s in sorted(self.spectra.items())}}

    def save(self) -> None:
        if self.path is not None:
            atomic_write_text(self.path, json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> DenseSpectra:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            dense = cls(data["probe"], data["convention"], data["settings"], name=data["name"],
                        model_fingerprint=data.get("model_fingerprint", ""), path=path)
            dense.spectra = {int(e): LyapunovSpectrum.from_dict(s) for e, s in data["spectra"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"cannot read the dense reference {path}: {exc}; allowed: a file written by "
                            "dense_reference") from None
        return dense


def _epoch_list(epochs: int | Iterable[int] | None, what: str) -> list[int]:
    if epochs is None:
        raise UserError(f"{what} needs epochs=N (epochs 0..N-1) or a list of epochs")
    wanted = list(range(epochs)) if isinstance(epochs, int) else sorted({int(e) for e in epochs})
    if not wanted or min(wanted) < 0:
        raise UserError(f"epochs = {epochs!r}; allowed: a positive count or non-negative epoch numbers")
    return wanted


def dense_reference(dense: nn.Module | Sequence[nn.Module] | Mapping[int, nn.Module] | Callable[[int], nn.Module],
                    probe: Probe | Tensor, *, epochs: int | Iterable[int] | None = None,
                    train_epoch: Callable[[nn.Module, int], Any] | None = None, cache: str | Path | None = None,
                    name: str = "dense", convention: str = "reference", rnn: str | None = None,
                    embedding: nn.Module | None = None, **settings) -> DenseSpectra:
    """The dense network's spectrum at each epoch (the forms are in the module docstring).

    convention: "reference" (the paper's: hidden states only, LSTM cells held fixed) or "standard".
    settings: k, warmup, tangent_warmup, qr_every, log_base, frame_dtype, init, seed (see
    `model_spectrum`); every candidate is measured with the same ones by `spectrum_distance`.
    """
    check_choice("Lyapunov convention", convention, CONVENTIONS)
    for key in settings:
        check_choice("spectrum setting", key, SPECTRUM_SETTINGS)
    settings = {key: settings.get(key) for key in SPECTRUM_SETTINGS}
    if isinstance(settings["frame_dtype"], torch.dtype):
        settings["frame_dtype"] = str(settings["frame_dtype"]).replace("torch.", "")

    if isinstance(dense, nn.Module):
        first = dense
    elif isinstance(dense, Mapping):
        if not dense:
            raise UserError("dense_reference got an empty mapping of checkpoints; allowed: {epoch: module}")
        first = dense[min(dense)]
    elif isinstance(dense, Sequence):
        if not dense:
            raise UserError("dense_reference got an empty list of checkpoints; allowed: one module per epoch")
        first = dense[0]
    elif callable(dense):
        first = None
    else:
        raise UserError(f"dense_reference got {type(dense).__name__}; allowed: a module (with train_epoch and "
                        "epochs, or alone), a list or dict of modules per epoch, or a callable epoch -> module")
    if first is not None and not isinstance(first, nn.Module):
        raise UserError(f"dense checkpoint of type {type(first).__name__}; allowed: torch.nn.Module")

    template = first if first is not None else dense(_epoch_list(epochs, "a callable dense model")[0])
    record = probe_record(template, probe, embedding, settings["warmup"])
    reference = DenseSpectra(record, convention, settings, name=name,
                             model_fingerprint=weights_fingerprint(template) if first is not None else "")
    if cache is not None:
        reference.path = Path(cache) / f"{name}-{reference.tag}.json"
        if reference.path.is_file():
            cached = DenseSpectra.load(reference.path)
            if cached.tag == reference.tag:
                reference.spectra = cached.spectra

    def measure(model: nn.Module, epoch: int | None) -> None:
        spectrum = reference.measure(model, probe, rnn=rnn, embedding=embedding)
        reference.spectra[ANY_EPOCH if epoch is None else epoch] = spectrum
        reference.save()

    if isinstance(dense, nn.Module) and train_epoch is None:
        if epochs is not None:
            raise UserError("epochs needs train_epoch=fn(model, epoch) to train the dense model; allowed: "
                            "a module alone (one spectrum for every epoch), or train_epoch with epochs")
        if not reference.fixed:
            measure(dense, None)
    elif isinstance(dense, nn.Module):
        wanted = _epoch_list(epochs, "train_epoch")
        missing = [e for e in wanted if e not in reference.spectra]
        for epoch in range(max(missing) + 1 if missing else 0):
            train_epoch(dense, epoch)
            if epoch in missing:
                measure(dense, epoch)
    else:
        if train_epoch is not None:
            raise UserError("train_epoch applies to a single dense module; checkpoints are measured as given")
        if isinstance(dense, Mapping):
            items = sorted((int(e), m) for e, m in dense.items())
        elif isinstance(dense, Sequence):
            items = list(enumerate(dense))
        else:
            items = [(e, None) for e in _epoch_list(epochs, "a callable dense model")]
        for epoch, model in items:
            if epoch not in reference.spectra:
                measure(dense(epoch) if model is None else model, epoch)
    return reference


def spectrum_distance(model: nn.Module, dense: DenseSpectra, probe: Probe | Tensor | None = None, *,
                      epoch: int | None = None, distance: str = "l2", convention: str | None = None,
                      rnn: str | None = None, embedding: nn.Module | None = None, **distance_options) -> float:
    """Distance from `model`'s spectrum to the dense spectrum at the same `epoch` (lower: closer).

    The model is measured on `probe` (default: the reference's own token probe) with the
    reference's convention and settings. Raises a one-line UserError, never returns NaN or inf,
    when the probe or convention differ from the reference's or a spectrum is not finite, so that a
    `trial.report` never stores a number that cannot be ranked.
    """
    if not isinstance(dense, DenseSpectra):
        raise UserError(f"dense is a {type(dense).__name__}; allowed: the DenseSpectra that dense_reference returns")
    DISTANCES.get(distance)                  # an unknown name fails before any measuring
    if convention is not None and convention != dense.convention:
        raise UserError(f"convention '{convention}' differs from the dense reference's '{dense.convention}'; "
                        "allowed: the same convention for the dense model and every candidate")
    reference = dense.spectrum(epoch)
    candidate = dense.measure(model, dense.probe_input() if probe is None else probe, rnn=rnn, embedding=embedding)
    for side, spectrum in (("candidate", candidate), ("dense", reference)):
        if not spectrum.all_finite:
            raise UserError(f"the {side} spectrum at epoch {epoch} is not finite ({'; '.join(spectrum.issues)}); "
                            "allowed: finite exponents (a diverged model cannot be ranked)")
    value = spectra_distance(distance, candidate, reference, **distance_options)
    if not math.isfinite(value):
        raise UserError(f"distance '{distance}' at epoch {epoch} is {value}; allowed: a finite number")
    return value


__all__ = ["DenseSpectra", "dense_reference", "spectrum_distance"]
