"""Per-tensor counts and FLOPs per token of a (possibly masked) recurrent language model.

FLOPs convention (what `flops_per_token` counts):

- every weight matrix in `model.sparsifiable()` except the embedding does one matrix-vector product
  per token: 2 FLOPs (a multiply and an add) per entry, so 2 * rows * cols dense and 2 * kept sparse
  (a sparse kernel skips the zeros); recurrent matrices (input-to-hidden and hidden-to-hidden of
  every layer) and the decoder alike;
- the embedding is a table lookup: 0 FLOPs; but when it is also the decoder matrix (tied weights:
  the same Parameter is `model.decoder.weight`, or the embedding is registered under a second name) the decoder
  product adds 2 * (its entries);
- a Mixture-of-Softmaxes head (`model.mos.n_experts = K`) applies the decoder matrix to K contexts
  per token: it counts K times;
- biases, gates' elementwise products, nonlinearities and the softmax are not counted; nor are
  matrices the model does not list in `sparsifiable()`.

`nonzero` is the number of entries the mask keeps (a kept weight may hold exactly 0.0 right after
regrowth); a tensor that is not masked counts as dense.
"""

from __future__ import annotations

import torch


def products_per_token(model: torch.nn.Module, group: str, param: torch.nn.Parameter) -> int:
    """How many matrix-vector products per token use `param` (the convention above)."""
    decoder = getattr(getattr(model, "decoder", None), "weight", None)
    is_decoder = param is decoder or (group == "embedding" and len(
        [n for n, p in model.named_parameters(remove_duplicate=False) if p is param]) > 1)
    if is_decoder:
        return int(getattr(getattr(model, "mos", None), "n_experts", 1) or 1)
    return 0 if group == "embedding" else 1


def sparsity_summary(model: torch.nn.Module, masks: dict[str, torch.Tensor] | None = None) -> dict:
    """{"tensors": {name: {group, shape, total, nonzero, density, masked}}, totals, FLOPs per token}."""
    masks = masks or {}
    tensors = {}
    flops_dense = flops_sparse = 0
    for name, (group, param) in model.sparsifiable().items():
        total = param.numel()
        nonzero = int(masks[name].sum()) if name in masks else total
        tensors[name] = {
            "group": group, "shape": list(param.shape), "total": total, "nonzero": nonzero,
            "density": nonzero / total if total else 0.0, "masked": name in masks,
        }
        uses = products_per_token(model, group, param)
        flops_dense += 2 * total * uses
        flops_sparse += 2 * nonzero * uses
    masked_total = sum(t["total"] for t in tensors.values() if t["masked"])
    masked_nonzero = sum(t["nonzero"] for t in tensors.values() if t["masked"])
    return {
        "tensors": tensors,
        "total": sum(t["total"] for t in tensors.values()),
        "nonzero": sum(t["nonzero"] for t in tensors.values()),
        "masked_total": masked_total,
        "masked_nonzero": masked_nonzero,
        "sparsity": 1.0 - masked_nonzero / masked_total if masked_total else 0.0,
        "flops_per_token": {
            "dense": flops_dense,
            "sparse": flops_sparse,
            "ratio": flops_sparse / flops_dense if flops_dense else 1.0,
        },
    }
