"""Spectra of language models on a probe, in one of two conventions.

`standard` (the default): the whole state (an LSTM's h and c), the forward Jacobian J_t, natural
log. The state warms up on the probe's first `warmup` tokens; the exponents are measured over the
`length` tokens that follow, from a seeded random orthonormal frame.

`reference`: the LSH paper's released computation (Zheng & Shlizerman 2025, arXiv 2506.07975; code
github.com/FATE4869/hyperpruning: sources/lyapunov.py `calc_LEs_an`, `lstm_jac`, `gru_jac`, `RHN_jac`,
`oneStepVarQR`, driven by sources/LE_calculation.py and sources/args.py). Verified by reading it:
  - tangent space: the hidden state only, every layer's h concatenated layer by layer (their h is
    (layers, B, H), flattened layer-major); `lstm_jac` is d h_t / d h_{t-1} with c_{t-1} a constant
    (the c dependence enters only through the gates), and layer l's rows include layer l - 1 through
    the new h_t (block lower triangular, J[l, m] = J_x^l J[l-1, m]);
  - frame: the identity's first k columns (k = all by default), multiplied by the *transposed*
    Jacobian, Z = J^T Q, then QR with the signs of diag(R) made positive (`oneStepVarQR`);
  - warm-up: on the first `warmup` = 10 inputs the state advances and the frame is multiplied by J^T
    with no QR, then QR'd once; the measured loop then re-feeds *all* T inputs from the first,
    continuing from the warmed-up state, with a QR every step (T_ons = 1);
  - exponents = sum_t log2(R_t[i, i]) / T per sequence; the stored spectrum is their mean;
  - probe: the first batch (bptt = 35) of the validation split batchified with eval_batch_size = 2,
    zero initial state, the embedding's output (dropout off in eval) as input, float32 throughout;
  - RHN: `RHN_jac` returns the product of *transposed* micro-step Jacobians, so its J^T Q is the
    forward product M_D ... M_1 Q: this convention uses the forward Jacobian for RHNs. (That code
    also leaves the input projection's bias out of the first micro-step; we use the model's own
    equations, which `step` defines.)
Inferred or deliberately different:
  - the warm-up here re-orthonormalises every `qr_every` steps (default 1) instead of once at its end.
    The span, hence every later R, is the same in exact arithmetic (tests/lyapunov/test_reference.py
    checks the two to 1e-10 in float64); in float32 the paper's 10 un-normalised products push the
    contracting directions below rounding and spoil the smallest exponents (by 0.4 log2 on a random
    2x200 LSTM), which the per-step QR avoids;
  - GRU and tanh-RNN follow the same rules (`gru_jac`, `rnn_jac` are forward Jacobians used with J^T
    products); other layer kinds follow the LSTM's (h only, J^T).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from hyperprune.config import check_choice, check_range, check_whole
from hyperprune.errors import UserError
from hyperprune.lyapunov.analytic import AnalyticTangent
from hyperprune.lyapunov.probe import Probe
from hyperprune.lyapunov.result import LyapunovSpectrum
from hyperprune.lyapunov.spectrum import INITS, lyapunov_spectrum
from hyperprune.lyapunov.tangents import AutogradTangent, TangentMap

METHODS = ("auto", "analytic", "autograd")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Convention:
    name: str
    keep: str          # "all" state tensors, or "h" only (LSTM cells held fixed)
    transposed: bool   # frame multiplied by J^T (the paper's code) instead of J
    log_base: float
    refeed: bool       # measured steps re-read the probe from its first token
    init: str          # initial frame


CONVENTIONS: dict[str, Convention] = {
    "standard": Convention("standard", keep="all", transposed=False, log_base=math.e, refeed=False, init="random"),
    "reference": Convention("reference", keep="h", transposed=True, log_base=2.0, refeed=True, init="identity"),
}


def describe_model(model: nn.Module) -> dict:
    """What the result should remember about the network: family, sizes, nonzero recurrent weights."""
    layers = [{"kind": layer.kind, "input_size": layer.input_size, "hidden_size": layer.hidden_size}
              for layer in model.layers]
    nonzero = sum(int(torch.count_nonzero(layer.weight_ih)) + int(torch.count_nonzero(layer.weight_hh))
                  for layer in model.layers)
    total = sum(layer.weight_ih.numel() + layer.weight_hh.numel() for layer in model.layers)
    return {"class": type(model).__name__, "layers": layers, "state_kinds": list(model.state_kinds()),
            "recurrent_weights_nonzero": nonzero, "recurrent_weights_total": total}


def _state_names(model: nn.Module) -> list[str]:
    return [f"layers.{l}.{kind}" for l, layer in enumerate(model.layers) for kind in layer.state_kinds()]


def _tangent(model: nn.Module, keep: str, transposed: bool, method: str, tokens: torch.Tensor) -> TangentMap:
    """The analytic tangent when the model's layers have one and it reproduces `model.step`."""
    check_choice("spectrum method", method, METHODS)
    kinds = model.state_kinds()
    indices = [i for i, kind in enumerate(kinds) if keep == "all" or kind == "h"]
    if method != "autograd" and AnalyticTangent.supports(model):
        tangent = AnalyticTangent(model, keep=keep, transpose=transposed)
        with torch.no_grad():  # self-check on a warm state: our cell equations must be the model's
            state = model.step(tokens[0], model.init_state(tokens.shape[1]))
            ours, _ = tangent.linearize(tokens[min(1, len(tokens) - 1)], state)
            theirs = model.step(tokens[min(1, len(tokens) - 1)], state)
        gap = max(float((a - b).abs().max()) for a, b in zip(ours, theirs))
        tol = 1e-5 if ours[0].dtype == torch.float32 else 1e-12
        if gap <= tol:
            return tangent
        if method == "analytic":
            raise UserError(f"the analytic tangent does not reproduce this model's step (max gap {gap:.2e}); "
                            "use method='autograd' or 'auto'")
        warnings.warn(f"analytic tangent disagrees with {type(model).__name__}.step by {gap:.2e}; using autograd",
                      RuntimeWarning, stacklevel=3)
    elif method == "analytic":
        raise UserError(f"no analytic tangent for layer kinds {[layer.kind for layer in model.layers]}; "
                        "use method='autograd' or 'auto'")
    return AutogradTangent(model.step, keep=indices, transpose=transposed)


def model_spectrum(
    model: nn.Module,
    probe: Probe,
    *,
    convention: str = "standard",
    k: int | None = None,
    warmup: int | None = None,
    tangent_warmup: int | None = None,
    qr_every: int = 1,
    log_base: float | None = None,
    frame_dtype: str | torch.dtype | None = None,
    method: str = "auto",
    init: str | None = None,
    seed: int = 0,
) -> LyapunovSpectrum:
    """Lyapunov spectrum of a RecurrentLM's recurrent core, driven by the probe's tokens.

    warmup: warm-up steps (default: the probe's); tangent_warmup: extra steps (standard only) that
    align the frame before measuring; both come out of the probe's warm-up tokens. log_base and
    init default to the convention's. method: "analytic" (LSTM/GRU/RNN/RHN cell equations), "autograd"
    (torch.func, any model) or "auto" (analytic where available). The model is put in eval mode for
    the computation and returned to its previous mode.
    """
    check_choice("Lyapunov convention", convention, CONVENTIONS)
    conv = CONVENTIONS[convention]
    if k is not None:
        k = check_whole("k (number of exponents)", k, "a whole number >= 1, or None for all")
    warmup = probe.warmup if warmup is None else check_whole("warmup", warmup, "a whole number >= 0")
    check_range("warmup", warmup, 0)
    if isinstance(frame_dtype, str):
        check_choice("frame dtype", frame_dtype, DTYPES)
        frame_dtype = DTYPES[frame_dtype]
    init = conv.init if init is None else init
    check_choice("frame init", init, INITS)
    transposed = conv.transposed and not all(layer.kind == "rhn" for layer in model.layers)

    device = next(model.parameters()).device
    tokens = probe.tokens.to(device)                                    # (warmup + length, B)
    if convention == "reference":
        if tangent_warmup:
            raise UserError("tangent_warmup does not apply to the reference convention: "
                            "its warm-up already moves the frame; set warmup instead")
        if warmup > probe.length:
            raise UserError(f"reference warm-up {warmup} re-reads the first tokens of a probe of length "
                            f"{probe.length}; allowed: warmup <= {probe.length}")
        inputs = tokens[:probe.length]                                  # the paper's window
        phases = dict(warmup=0, tangent_warmup=warmup, refeed=True)
    else:
        tangent_warmup = tangent_warmup or 0
        if warmup + tangent_warmup > probe.warmup:
            raise UserError(f"warmup {warmup} + tangent_warmup {tangent_warmup} exceed the probe's "
                            f"{probe.warmup} warm-up tokens; allowed: at most {probe.warmup} (make a probe "
                            "with a longer warmup)")
        inputs = tokens[probe.warmup - warmup - tangent_warmup:]       # measured: tokens[probe.warmup:]
        phases = dict(warmup=warmup, tangent_warmup=tangent_warmup, refeed=False)

    was_training = model.training
    model.eval()
    try:
        tangent = _tangent(model, conv.keep, transposed, method, inputs)
        names = _state_names(model)
        n = tangent.dim(model.init_state(1))
        if init == "identity" and k is not None and k < n:
            # e_1 .. e_k span the first k units of layer 0: their exponents are not the leading k.
            raise UserError(f"k = {k} of {n} exponents with the identity frame: the leading k need init=random; "
                            f"the paper's reference uses all exponents (leave k out)")
        return lyapunov_spectrum(
            None, model.init_state(probe.n_sequences), inputs, k=k, qr_every=qr_every,
            log_base=conv.log_base if log_base is None else log_base, frame_dtype=frame_dtype,
            tangent=tangent, init=init, seed=seed, convention=convention,
            kept_names=[names[i] for i in tangent.kept(model.init_state(1))],
            probe=probe.to_dict(), model=describe_model(model), **phases,
        )
    finally:
        model.train(was_training)
