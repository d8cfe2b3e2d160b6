"""A trained model as a user takes it away: `load_model(path)` and `export_model(path, out, format)`.

`load_model` reads a checkpoint (`.pt`), a run directory (its newest checkpoint), a search's exported
winner, or a file `export_model` wrote, and gives the model in eval mode, its vocabulary and its
config: nothing else is needed to score or sample text.

`export_model` writes the model as evaluated (NT-ASGD's averages where averaging had started) in
safetensors, the format Hugging Face uses. `dense`: every tensor whole. `sparse`: each masked weight
matrix as `NAME.indices` (flat positions its mask keeps, in the narrowest integer type that fits) and `NAME.values` (the
weights there), every other tensor whole. The file's metadata holds the config and the vocabulary as
JSON, the masked matrices' shapes and the names of tied weights, so it loads with no corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from hyperprune.config import from_dict, to_dict
from hyperprune.data import load_corpus
from hyperprune.data.vocabulary import Vocabulary
from hyperprune.errors import UserError
from hyperprune.files import atomic_write_bytes
from hyperprune.models import RecurrentLM, build_model
from hyperprune.train.checkpoint import load_weights
from hyperprune.train.config import RunConfig
from hyperprune.train.trainer import load_trained

FORMATS = ("sparse", "dense")
EXPORT_FORMAT = "hyperprune-export-1"       # metadata "format": what `load_model` accepts


class LoadedModel(NamedTuple):
    model: RecurrentLM            # in eval mode
    vocab: Vocabulary             # vocab.itos[id] -> word, vocab.stoi[word] -> id
    config: RunConfig


@dataclass
class Exported:
    path: Path
    format: str
    bytes_written: int
    dense_bytes: int              # the same weights written whole (what `--format dense` writes)
    masked_kept: int              # entries of the masked matrices stored
    masked_total: int


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """(model in eval mode, vocabulary, config) from a checkpoint, run directory, exported winner or
    a `.safetensors` file from `export_model`."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"'{path}' does not exist; give a .pt checkpoint, a run directory or a .safetensors export")
    if path.is_file() and path.suffix == ".safetensors":
        return _load_export(path, device)
    cfg, model, payload = load_trained(path, device)
    return LoadedModel(model, _vocabulary(payload, cfg, path), cfg)


def _vocabulary(payload: dict[str, Any], cfg: RunConfig, path: Path) -> Vocabulary:
    """The checkpoint's own vocabulary; a checkpoint written before it held one (format 1) gets the
    corpus's, which its config names (the same ids: the vocabulary is built from the training split)."""
    if "vocab" in payload:
        return Vocabulary(list(payload["vocab"]))
    vocab = load_corpus(cfg.data).vocab
    if len(vocab) != payload["vocab_size"]:
        raise UserError(f"checkpoint '{path}' was trained on a vocabulary of {payload['vocab_size']:,} words, "
                        f"but its corpus now has {len(vocab):,}; give data.data_dir the corpus it was trained on")
    return vocab


def export_model(path: str | Path, out: str | Path, format: str = "sparse") -> Exported:
    """Write the model at `path` (anything `load_model` reads but an export) to `out` in safetensors."""

    if format not in FORMATS:
        raise UserError(f"export format '{format}' is not known; allowed: {', '.join(FORMATS)}")
    path = Path(path)
    if path.is_file() and path.suffix == ".safetensors":
        raise UserError(f"'{path}' is already an export; give the checkpoint or run directory it came from")
    cfg, model, payload = load_trained(path, "cpu")
    vocab = _vocabulary(payload, cfg, path)
    masks = (payload.get("sparse") or {}).get("masks") or {}
    tensors, aliases = _unique_tensors(model)
    metadata = {"format": EXPORT_FORMAT, "layout": format, "epoch": str(payload["epoch"]),
                "config": json.dumps(to_dict(cfg)), "vocab": json.dumps(vocab.itos),
                "aliases": json.dumps(aliases)}
    dense = save(tensors, metadata={**metadata, "layout": "dense", "shapes": "{}"})
    kept = sum(int(masks[n].sum()) for n in masks if n in tensors)
    total = sum(tensors[n].numel() for n in masks if n in tensors)
    if format == "dense":
        data = dense
    else:
        stored, shapes = {}, {}
        for name, tensor in tensors.items():
            if name not in masks:
                stored[name] = tensor
                continue
            flat_mask = masks[name].reshape(-1).bool()
            index_type = _index_type(tensor.numel())
            stored[f"{name}.indices"] = flat_mask.nonzero().reshape(-1).to(index_type)     # (kept,)
            stored[f"{name}.values"] = tensor.reshape(-1)[flat_mask].contiguous()          # (kept,)
            shapes[name] = list(tensor.shape)
        data = save(stored, metadata={**metadata, "shapes": json.dumps(shapes)})
    out = Path(out)
    atomic_write_bytes(out, data)
    return Exported(out, format, len(data), len(dense), kept, total)


def _index_type(numel: int) -> torch.dtype:
    """The narrowest signed integer that holds every flat position: with float32 values a kept entry
    costs 4 + 2, 4 or 8 bytes against 4 dense, so the index width decides where sparse pays off."""
    for dtype in (torch.int16, torch.int32):
        if numel - 1 <= torch.iinfo(dtype).max:
            return dtype
    return torch.int64


def _unique_tensors(model: RecurrentLM) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The model's tensors, each stored once: safetensors refuses two names on one storage, which a
    tied decoder is (`aliases`: the second name -> the first)."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[int, int], str] = {}
    for name, tensor in model.state_dict().items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        if key in seen and tensor.numel():
            aliases[name] = seen[key]
            continue
        seen[key] = name
        tensors[name] = tensor.detach().contiguous().clone()
    return tensors, aliases


def _load_export(path: Path, device) -> LoadedModel:

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            stored = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError) as exc:
        raise UserError(f"'{path}' is not a readable safetensors file ({exc})") from None
    if metadata.get("format") != EXPORT_FORMAT:
        raise UserError(f"'{path}' is a safetensors file, but not one `hyperprune export` wrote "
                        f"(metadata format {metadata.get('format')!r}; expected {EXPORT_FORMAT!r})")
    cfg = from_dict(RunConfig, json.loads(metadata["config"]))
    vocab = Vocabulary(json.loads(metadata["vocab"]))
    state: dict[str, torch.Tensor] = {}
    for name, shape in json.loads(metadata["shapes"]).items():
        dense = torch.zeros(shape, dtype=stored[f"{name}.values"].dtype)
        dense.view(-1)[stored.pop(f"{name}.indices").long()] = stored.pop(f"{name}.values")
        state[name] = dense
    state.update(stored)
    for name, original in json.loads(metadata["aliases"]).items():
        state[name] = state[original]
    model = build_model(cfg.model, len(vocab))
    load_weights(model, state, path)
    model.to(device).eval()
    return LoadedModel(model, vocab, cfg)
