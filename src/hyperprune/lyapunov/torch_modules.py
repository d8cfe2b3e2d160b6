"""Spectra of stock PyTorch recurrent modules: `nn.LSTM`, `nn.GRU`, `nn.RNN`, or a user's model around one.

    spectrum = module_spectrum(nn.LSTM(32, 64, num_layers=2), features)        # (T, B, 32) floats
    spectrum = module_spectrum(my_lm, probe, convention="reference")          # embedding + nn.LSTM inside

`TorchRecurrentCore` is a view of the module that looks, to the Lyapunov engine, like one of our
`RecurrentLM`s: `layers` whose `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` are properties that
read `weight_ih_l{k}` ... of the module at each access (no copies, so a view built once follows
training), and whose cell equations are our layers' own (`LSTMLayer.cell`, `GRULayer.cell`,
`RNNLayer.step`; PyTorch's gate orders and its GRU `n = tanh(W_in x + b_in + r (W_hn h + b_hn))`
are ours). So the analytic tangents apply as they are, and an `nn.LSTM` and our `LSTMLayer` stack
holding the same weights give bit-identical spectra. A ReLU `nn.RNN` has no analytic tangent and is
differentiated by autograd.

What is measured: the map (x_t, state) -> state of the recurrent module, the input x_t being the
features given, or the output of the model's `nn.Embedding` for token ids. Anything the user's
model does between the embedding and the RNN (dropout aside, which is off in eval mode) is not part
of the map. The model is measured in eval mode and every submodule is returned to its own mode.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from hyperprune.config import check_range, closest
from hyperprune.errors import UserError
from hyperprune.lyapunov.conventions import model_spectrum
from hyperprune.lyapunov.probe import Probe
from hyperprune.lyapunov.result import LyapunovSpectrum
from hyperprune.models.base import RecurrentLM
from hyperprune.models.layers import GRULayer, LSTMLayer, RNNLayer

SUPPORTED_MODES = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn", "RNN_RELU": "rnn-relu"}


# ---- views of one layer of an nn.LSTM / nn.GRU / nn.RNN ----------------------------------------------


class TorchLayerView:
    """Layer `index` of a torch RNN module, seen as one of our RecurrentLayers (no parameters of its own)."""

    kind: str
    training = False    # the view itself never drops anything: `step` is the deterministic map

    def __init__(self, rnn: nn.RNNBase, index: int):
        self.rnn, self.index = rnn, index
        self.input_size = rnn.input_size if index == 0 else rnn.hidden_size
        self.hidden_size = rnn.hidden_size

    # Read at every access: the module's current tensors, whatever happened to them since.
    @property
    def weight_ih(self) -> Tensor:
        return getattr(self.rnn, f"weight_ih_l{self.index}")

    @property
    def weight_hh(self) -> Tensor:
        return getattr(self.rnn, f"weight_hh_l{self.index}")

    @property
    def bias_ih(self) -> Tensor | None:
        return getattr(self.rnn, f"bias_ih_l{self.index}", None)     # None for bias=False

    @property
    def bias_hh(self) -> Tensor | None:
        return getattr(self.rnn, f"bias_hh_l{self.index}", None)

    def state_kinds(self) -> tuple[str, ...]:
        return ("h",)


class LSTMView(TorchLayerView):
    kind = "lstm"
    state_kinds = LSTMLayer.state_kinds
    cell = LSTMLayer.cell      # the same cell equations as our LSTMLayer, on the module's tensors
    step = LSTMLayer.step


class GRUView(TorchLayerView):
    kind = "gru"
    cell = GRULayer.cell
    step = GRULayer.step


class RNNView(TorchLayerView):
    kind = "rnn"
    step = RNNLayer.step


class ReLURNNView(TorchLayerView):
    kind = "rnn-relu"          # no analytic tangent: model_spectrum falls back to autograd

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        (h,) = state
        return (torch.relu(nn.functional.linear(x, self.weight_ih, self.bias_ih)
                           + nn.functional.linear(h, self.weight_hh, self.bias_hh)),)


VIEWS: dict[str, type[TorchLayerView]] = {"lstm": LSTMView, "gru": GRUView, "rnn": RNNView, "rnn-relu": ReLURNNView}


class FeatureInput:
    """Stands where a RecurrentLM has its embedding when the inputs are features: x_t as given."""

    def __call__(self, x_t: Tensor) -> Tensor:
        return x_t


class TorchRecurrentCore:
    """A torch RNN module (plus the embedding that feeds it, if any) as the Lyapunov engine sees a
    RecurrentLM: `layers`, `embedding`, `state_kinds()`, `init_state(B)`, `split_state`, `step`.

    `root` is the user's model (or the RNN itself): its parameters give the device, its mode is the
    one `model_spectrum` switches to eval and back.
    """

    split_state = RecurrentLM.split_state
    step = RecurrentLM.step                      # embed one input, then every layer's cell once

    def __init__(self, rnn: nn.RNNBase, embedding: nn.Module | None = None, root: nn.Module | None = None):
        kind = SUPPORTED_MODES[rnn.mode]
        self.rnn = rnn
        self.root = rnn if root is None else root
        self.embedding = FeatureInput() if embedding is None else embedding
        self.layers = [VIEWS[kind](rnn, index) for index in range(rnn.num_layers)]

    def state_kinds(self) -> tuple[str, ...]:
        return tuple(kind for layer in self.layers for kind in layer.state_kinds())

    def init_state(self, batch_size: int) -> tuple[Tensor, ...]:
        weight = self.rnn.weight_hh_l0
        return tuple(torch.zeros(batch_size, layer.hidden_size, dtype=weight.dtype, device=weight.device)
                     for layer in self.layers for _ in layer.state_kinds())

    def parameters(self) -> Iterator[nn.Parameter]:
        return self.root.parameters()

    @property
    def training(self) -> bool:
        return self.root.training

    def eval(self) -> TorchRecurrentCore:
        self.root.eval()
        return self

    def train(self, mode: bool = True) -> TorchRecurrentCore:
        self.root.train(mode)
        return self


# ---- inputs ------------------------------------------------------------------------------------------


@dataclass
class FeatureProbe(Probe):
    """A probe of feature vectors: `tokens` holds them, (warmup + length, B, input_size), time first.

    Its record (`to_dict`) is a fingerprint of the features, not the numbers themselves.
    """

    def to_dict(self) -> dict:
        data = self.tokens.detach().to(torch.float64).cpu().contiguous().numpy().tobytes()
        return {"features_shape": list(self.tokens.shape), "features_sha1": hashlib.sha1(data).hexdigest()[:16],
                "warmup": self.warmup, "length": self.length, "mode": "features"}


def find_rnn(model: nn.Module, name: str | None = None) -> nn.RNNBase:
    """The one nn.LSTM / nn.GRU / nn.RNN of `model` (itself, or its submodule `name`)."""
    if name is not None:
        try:
            rnn = model.get_submodule(name)
        except AttributeError:
            names = [n for n, m in model.named_modules() if isinstance(m, nn.RNNBase)]
            raise UserError(f"model {type(model).__name__} has no submodule '{name}'; "
                            f"its recurrent modules: {', '.join(names) or 'none'}") from None
    elif isinstance(model, nn.RNNBase):
        rnn = model
    else:
        found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.RNNBase)]
        if len(found) != 1:
            listed = ", ".join(n for n, _ in found)
            raise UserError(
                f"{type(model).__name__} holds {len(found)} nn.LSTM/nn.GRU/nn.RNN modules"
                f"{' (' + listed + ')' if found else ''}; allowed: exactly one, or name it with rnn='...'")
        rnn = found[0][1]
    check_supported(rnn)
    return rnn


def check_supported(rnn: nn.Module) -> None:
    if not isinstance(rnn, nn.RNNBase) or type(rnn) not in (nn.LSTM, nn.GRU, nn.RNN):
        raise UserError(f"{type(rnn).__name__} is not a supported recurrent module; allowed: torch.nn.LSTM, "
                        "torch.nn.GRU, torch.nn.RNN, or a hyperprune RecurrentLM")
    if rnn.bidirectional:
        raise UserError(f"{type(rnn).__name__}(bidirectional=True) is not a map from past to future state; "
                        "allowed: bidirectional=False")
    if getattr(rnn, "proj_size", 0):
        raise UserError(f"nn.LSTM(proj_size={rnn.proj_size}) is not supported; allowed: proj_size=0")


def find_embedding(model: nn.Module, rnn: nn.RNNBase) -> nn.Embedding:
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Embedding)]
    if len(found) != 1:
        raise UserError(f"token ids need the nn.Embedding that feeds {type(rnn).__name__}; "
                        f"{type(model).__name__} holds {len(found)}; pass embedding=... or give features "
                        f"(T, B, {rnn.input_size}) instead")
    return found[0][1]


def as_probe(inputs: Probe | Tensor, rnn: nn.RNNBase, embedding: nn.Module | None,
             warmup: int | None = None) -> Probe:
    """A Probe (token ids) or FeatureProbe from what the user passed, checked against the module.

    A Probe is time-first, as every hyperprune probe is; a tensor follows the module's `batch_first`:
    (T, B) or (B, T) token ids, (T, B, input_size) or (B, T, input_size) features. `warmup` leading
    steps only advance the state (for a Probe: its own).
    """
    if isinstance(inputs, Probe):
        probe = inputs
    elif isinstance(inputs, Tensor):
        x = inputs.detach()
        layout = "(B, T" if rnn.batch_first else "(T, B"
        if x.is_floating_point():
            if x.dim() != 3 or x.shape[2] != rnn.input_size:
                raise UserError(f"features of shape {tuple(x.shape)} do not fit {type(rnn).__name__}(input_size="
                                f"{rnn.input_size}); allowed: {layout}, {rnn.input_size})")
        elif x.dim() != 2:
            raise UserError(f"token ids of shape {tuple(x.shape)}; allowed: {layout}) long")
        if rnn.batch_first:
            x = x.transpose(0, 1)
        x = x.contiguous()
        w = 0 if warmup is None else int(warmup)
        check_range("warmup", w, 0, x.shape[0] - 1)
        kind = FeatureProbe if x.is_floating_point() else Probe
        probe = kind(tokens=x, warmup=w, length=x.shape[0] - w, mode="given")
    else:
        raise UserError(f"inputs of type {type(inputs).__name__}; allowed: a hyperprune Probe, token ids "
                        f"(long tensor) or features (float tensor)")

    if isinstance(probe, FeatureProbe):
        if embedding is not None and not isinstance(embedding, FeatureInput):
            raise UserError("features were given together with an embedding; allowed: token ids with an "
                            "embedding, or features alone")
        return probe
    if embedding is None:
        raise UserError(f"token ids need the nn.Embedding that feeds {type(rnn).__name__}; pass embedding=...")
    tokens = probe.tokens
    if tokens.is_floating_point() or tokens.dim() != 2:
        raise UserError(f"probe tokens of shape {tuple(tokens.shape)} and dtype {tokens.dtype}; allowed: "
                        "(T, B) long token ids")
    size = getattr(embedding, "num_embeddings", None)
    if size is not None and tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < size:
        raise UserError(f"token ids span {int(tokens.min())}..{int(tokens.max())}, the embedding has {size} "
                        f"rows; allowed: 0..{size - 1}")
    dim = getattr(embedding, "embedding_dim", rnn.input_size)
    if dim != rnn.input_size:
        raise UserError(f"the embedding gives vectors of {dim}, {type(rnn).__name__} reads input_size="
                        f"{rnn.input_size}; allowed: equal sizes")
    return probe


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Every submodule in eval mode inside; each back in its own previous mode after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def module_view(model: nn.Module, inputs: Probe | Tensor, *, rnn: str | None = None,
                embedding: nn.Module | None = None, warmup: int | None = None) -> tuple[TorchRecurrentCore, Probe]:
    """The view the engine measures and the probe it reads, from a user's model and inputs."""
    if not isinstance(model, nn.Module):
        raise UserError(f"{type(model).__name__} is not a torch.nn.Module; allowed: nn.LSTM, nn.GRU, nn.RNN, "
                        "a model holding one, or a hyperprune RecurrentLM")
    module = find_rnn(model, rnn)
    token_input = ((isinstance(inputs, Probe) and not isinstance(inputs, FeatureProbe))
                   or (isinstance(inputs, Tensor) and not inputs.is_floating_point()))
    if token_input and embedding is None:
        embedding = find_embedding(model, module)
    probe = as_probe(inputs, module, embedding, warmup)
    if isinstance(probe, FeatureProbe):
        probe.tokens = probe.tokens.to(dtype=module.weight_hh_l0.dtype)
    return TorchRecurrentCore(module, embedding if token_input else None, model), probe


def module_spectrum(model: nn.Module, inputs: Probe | Tensor, *, convention: str = "standard",
                    rnn: str | None = None, embedding: nn.Module | None = None, warmup: int | None = None,
                    **options) -> LyapunovSpectrum:
    """Lyapunov spectrum of a recurrent network, in `convention` ("standard" or "reference").

    Why "standard" here while the search, `dense_reference`, `spectrum_distance` and the CLI default
    to "reference": this function measures one network, and the textbook spectrum (whole state, the
    forward Jacobian, natural log) is the one that means the same for any recurrent module; the
    search side compares candidates the way the LSH paper's code does, so it defaults to the paper's.

    model: a hyperprune RecurrentLM, a torch nn.LSTM / nn.GRU / nn.RNN (any depth, batch_first or
        not, bias or not), or any nn.Module holding exactly one of them (else name it: `rnn="encoder.rnn"`).
    inputs: a Probe (token ids, time first; the model's one nn.Embedding, or `embedding=`, embeds
        them), or a tensor laid out as the module's batch_first says: token ids (T, B) / (B, T), or
        features (T, B, input_size) / (B, T, input_size). With a tensor, its first `warmup` steps
        (default 0) only advance the state.
    options: those of `model_spectrum` (k, tangent_warmup, qr_every, log_base, frame_dtype, method,
        init, seed). The analytic tangents apply to LSTM, GRU and tanh-RNN modules.
    """
    _check_options(options)
    model = _in_float32(model)
    if isinstance(model, RecurrentLM):
        if not isinstance(inputs, Probe) or isinstance(inputs, FeatureProbe):
            raise UserError(f"a {type(model).__name__} reads token ids: pass a Probe (make_probe); "
                            f"got {type(inputs).__name__}")
        return model_spectrum(model, inputs, convention=convention, warmup=warmup, **options)
    core, probe = module_view(model, inputs, rnn=rnn, embedding=embedding, warmup=warmup)
    if isinstance(inputs, Probe):
        options["warmup"] = warmup          # a Probe's own warm-up unless overridden
    with eval_mode(model):
        result = model_spectrum(core, probe, convention=convention, **options)
    if result.model is not None:
        result.model["class"] = type(model).__name__
        result.model["module"] = f"torch.nn.{type(core.rnn).__name__}"
    return result


def _check_options(options: dict) -> None:
    """An unknown keyword is named against `spectrum`'s own (a TypeError would name an inner function)."""
    allowed = [name for name, p in inspect.signature(model_spectrum).parameters.items()
               if p.kind is p.KEYWORD_ONLY and name not in ("convention", "warmup")]
    for name in options:
        if name not in allowed:
            raise UserError(f"spectrum() got an unknown argument '{name}'{closest(name, allowed + ['rnn', 'embedding', 'warmup', 'convention'])}; "
                            f"allowed: convention, rnn, embedding, warmup, {', '.join(allowed)}")


def _in_float32(model: nn.Module) -> nn.Module:
    """A half-precision model (float16, bfloat16) measured as a float32 copy, with one warning:
    QR and the Jacobian products have no half-precision CPU kernels, and their rounding would swamp
    the small exponents anyway."""
    half = {p.dtype for p in model.parameters() if p.dtype in (torch.float16, torch.bfloat16)}
    if not half:
        return model
    warnings.warn(f"the model's weights are {', '.join(sorted(str(d) for d in half))}; its spectrum is "
                  f"measured on a float32 copy", stacklevel=3)
    return copy.deepcopy(model).float()
