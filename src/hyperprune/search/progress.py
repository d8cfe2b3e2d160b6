"""What a search says about itself: the start-up banner, the planned rounds, tied scores, choices
of the space that cannot differ for this model, and RUN_DIR/log.jsonl.

Pure functions of the config, the stored job records and results.json; `console.py` prints them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

from hyperprune import __version__
from hyperprune.files import atomic_write_text
from hyperprune.search.jobs import Job, JobRecord
from hyperprune.search.rounds import Round
from hyperprune.search.schedule import dense_epochs
from hyperprune.train.banner import data_line, format_banner, model_line, sparsity_line
from hyperprune.train.epoch_log import LOG_NAME, read_epoch_log


# -- the banner -----------------------------------------------------------------------------------


def resume_state(cfg, strategy, records: dict[str, JobRecord]) -> str:
    """"fresh start", or what is already stored, e.g. "resuming: 3/6 candidates done, dense cached"."""
    if not records:
        return "fresh start"
    done = strategy.candidates_settled(records)
    wanted = dense_epochs(cfg, strategy)
    dense_done = [e for e in wanted if records.get(Job("dense", e).key) is not None
                  and records[Job("dense", e).key].state == "done"]
    if len(dense_done) == len(wanted):
        dense = "dense cached"
    else:
        dense = f"dense at epoch {max(dense_done, default=0)} of {max(wanted)}"
    return f"resuming: {done}/{cfg.search.n_candidates} candidates done, {dense}{strategy.resume_note(records)}"


def later_sequences(cfg, strategy) -> int | None:
    """Probe windows of the scores after e0, where a search has such scores and they differ; else None."""
    from hyperprune.search.reference import probe_sequences
    later = [probe_sequences(cfg, e) for e in strategy.compared_epochs() if e > cfg.search.first_epoch]
    return later[0] if later and later[0] != cfg.lyapunov.sequences else None


def search_context(cfg, bench, threads: int) -> dict[str, Any]:
    """What the search ran on, for the report's header and for people: the corpus as read (tokens),
    the dense model (parameters), the masked tensors, the plan, the spectrum's unit, seed, device,
    threads and the hyperprune version. Written to RUN_DIR/context.json when a search starts."""
    from hyperprune.lyapunov.conventions import CONVENTIONS
    from hyperprune.lyapunov.display import exponent_unit
    from hyperprune.models import build_model
    from hyperprune.sparse import resolve_sparse_config

    s, ref, corpus, strategy = cfg.search, bench.reference.config, bench.corpus, bench.strategy
    model = build_model(ref.model, len(corpus.vocab))
    sparse = resolve_sparse_config(cfg.sparse)
    masked = {name: list(p.shape) for name, (group, p) in model.sparsifiable().items() if group in sparse.masked}
    m = ref.model
    return {
        "hyperprune_version": __version__,
        "data": {"name": corpus.name, "level": corpus.level, "train_tokens": int(corpus.train.numel()),
                 "valid_tokens": int(corpus.valid.numel()), "test_tokens": int(corpus.test.numel()),
                 "vocab_size": len(corpus.vocab), "line": data_line(cfg.data, corpus)},
        "model": {"family": m.family, "preset": m.preset, "num_layers": m.num_layers, "hidden_size": m.hidden_size,
                  "emb_size": m.emb_size, "parameters": sum(p.numel() for p in model.parameters()),
                  "line": model_line(m, sum(p.numel() for p in model.parameters()))},
        "sparsity": {"sparsity": sparse.sparsity, "masked_groups": list(sparse.masked), "masked_tensors": masked,
                     "masked_total": sum(math.prod(shape) for shape in masked.values()),
                     "line": sparsity_line(sparse, None)},
        "search": {"strategy": s.strategy, "metric": s.metric, "sampler": s.sampler, "n_candidates": s.n_candidates,
                   "first_epoch": s.first_epoch, "epochs_per_round": s.epochs_per_round, "keep": s.keep,
                   "finalists": s.finalists, "final_epochs": cfg.final_epochs, "varied": [d.key for d in bench.space.dimensions],
                   "planned_rounds": strategy.planned_rounds(), **strategy.planned_cost()},
        "lyapunov": {"convention": cfg.lyapunov.convention, "k": cfg.lyapunov.k,
                     "unit": exponent_unit(CONVENTIONS[cfg.lyapunov.convention].log_base),
                     "sequences": cfg.lyapunov.sequences, "later_sequences": later_sequences(cfg, strategy),
                     "length": cfg.lyapunov.length,
                     "distance": cfg.lyapunov.distance},
        "seed": cfg.seed,
        "device": str(bench.device),
        "threads": threads,
    }


def search_banner(cfg, strategy, context: dict[str, Any], records: dict[str, JobRecord] | None, storage: str) -> str:
    s = cfg.search
    threads = context["threads"]
    lyap = context["lyapunov"]
    rows = [
        ("data", context["data"]["line"]),
        ("model", context["model"]["line"]),
        ("sparsity", context["sparsity"]["line"]),
        ("search", f"{strategy.describe()}: {s.n_candidates} candidates from the {s.sampler} sampler, varying "
                   f"{', '.join(context['search']['varied'])}"),
        ("epochs", strategy.schedule_line()),
        *[("", line) for line in strategy.plan_lines()],
        ("spectrum", f"{lyap['convention']} convention ({lyap['unit']}), k {lyap['k'] or 'all'}, "
                     f"{lyap['sequences']} x {lyap['length']} tokens"
                     f"{'' if lyap['later_sequences'] is None else ' at e0, ' + str(lyap['later_sequences']) + ' x ' + str(lyap['length']) + ' later'}"
                     f", distance {lyap['distance']}"),
        ("device", f"{context['device']}, {threads} thread{'s' if threads != 1 else ''}"),
        ("seed", str(cfg.seed)),
        ("run dir", str(cfg.run_dir)),
        ("storage", storage),
        ("start", resume_state(cfg, strategy, records) if records is not None else "not checked (dry run)"),
    ]
    return format_banner(f"hyperprune {__version__} | search '{cfg.study_name}'", rows)


# -- choices that cannot differ -------------------------------------------------------------------


def indistinguishable_choices(space, vocab_size: int) -> list[str]:
    """Warnings for `sparse.init` choices that keep the same number of entries in every masked
    tensor of this model (ER, ERK and uniform coincide when the masked tensors all have one shape;
    ER and ERK always do on matrices): such candidates differ only by name, and will tie."""
    import dataclasses

    from hyperprune.models import build_model
    from hyperprune.sparse import SparseEngine
    from hyperprune.train.trainer import resolve_run_config

    dim = next((d for d in space.dimensions if d.key == "sparse.init"), None)
    choices = list(getattr(dim.distribution, "choices", [])) if dim is not None else []
    if len(choices) < 2:
        return []
    cfg = resolve_run_config(space.run_config({}, ""))
    if not cfg.sparse.enabled:
        return []
    model = build_model(cfg.model, vocab_size)
    groups: dict[tuple, list[str]] = {}
    for choice in choices:
        engine = SparseEngine(model, dataclasses.replace(cfg.sparse, init=choice), epochs=1, steps_per_epoch=1,
                              seed=0)
        counts = engine.initial_counts()
        groups.setdefault(tuple(sorted(counts.items())), []).append(str(choice))
    shapes = sorted({tuple(model.get_parameter(name).shape) for name in counts})
    return [f"sparse.init choices {' and '.join(names)} keep the same entries per tensor on this model "
            f"(masked shapes {', '.join('x'.join(map(str, s)) for s in shapes)}): those candidates will tie"
            for names in groups.values() if len(names) > 1]


# -- ties -----------------------------------------------------------------------------------------


def _tied_groups(scores: dict[int, float]) -> list[list[int]]:
    ordered = sorted(scores, key=lambda c: (scores[c], c))
    groups, current = [], [ordered[0]] if ordered else []
    for c in ordered[1:]:
        if math.isclose(scores[c], scores[current[-1]], rel_tol=1e-12, abs_tol=0.0):
            current.append(c)
        else:
            groups.append(current)
            current = [c]
    if current:
        groups.append(current)
    return [g for g in groups if len(g) > 1]


def round_ties(r: Round | dict[str, Any]) -> list[dict[str, Any]]:
    """Ties that decided who survived round `r`: candidates with one score, some kept and some not.
    Ties are broken by candidate id (`rounds.rank`)."""
    if isinstance(r, dict):
        # JSON keys are strings; a search's ids are numbers, a replayed pool's may be names.
        scores = {int(c) if str(c).isdigit() else c: v for c, v in r["scores"].items()}
        kept, number, epoch = set(r["kept"]), r["round"], r["epoch"]
    else:
        scores, kept, number, epoch = r.scores, set(r.kept), r.round, r.epoch
    out = []
    for group in _tied_groups(scores):
        inside = [c for c in group if c in kept]
        if inside and len(inside) < len(group):
            out.append({"round": number, "epoch": epoch, "candidates": group, "score": scores[group[0]],
                        "kept": inside, "eliminated": [c for c in group if c not in kept]})
    return out


def describe_tie(tie: dict[str, Any]) -> str:
    return (f"round {tie['round']} at epoch {tie['epoch']}: candidates {', '.join(map(str, tie['candidates']))} "
            f"tie at score {tie['score']:.6g}; broken by candidate id: kept {tie['kept']}, "
            f"eliminated {tie['eliminated']}")


# -- RUN_DIR/log.jsonl ----------------------------------------------------------------------------


# What each model's own RUN_DIR/log.jsonl (train/epoch_log.py) adds to the search's log, per epoch.
TRAINING_KEYS = ("train_loss", "lr", "wall_s", "tokens_per_s")


def log_entries(results: dict[str, Any], trained: dict[tuple[str, int | None], dict[int, dict]] | None = None
                ) -> list[dict[str, Any]]:
    """One entry per (model, epoch) trained so far: the dense reference, then each candidate.
    Keys: model ("dense" or "candidate"), candidate (id or null), epoch, valid_ppl, score (the
    distance or metric at a scored epoch, else null), status (the candidate's now), and from the
    model's own epoch log (`trained`: (model, candidate) -> epoch -> entry; null where absent)
    train_loss (nats per token), lr, wall_s (the epoch's training pass) and tokens_per_s.

    `search --tensorboard DIR` mirrors it as TensorBoard scalars, one run per model
    (`train/tensorboard.py`).
    """
    trained = trained or {}

    def entry(model: str, candidate: int | None, epoch: str, ppl, score, status: str) -> dict[str, Any]:
        own = trained.get((model, candidate), {}).get(int(epoch), {})
        return {"model": model, "candidate": candidate, "epoch": int(epoch), "valid_ppl": ppl, "score": score,
                "status": status, **{key: own.get(key) for key in TRAINING_KEYS}}

    entries = []
    dense = results.get("dense") or {}
    for epoch, ppl in sorted(dense.get("valid_ppl_by_epoch", {}).items(), key=lambda kv: int(kv[0])):
        entries.append(entry("dense", None, epoch, ppl, None, "reference"))
    for c in results.get("candidates", []):
        for epoch, ppl in sorted(c.get("valid_ppl_by_epoch", {}).items(), key=lambda kv: int(kv[0])):
            entries.append(entry("candidate", c["id"], epoch, ppl, c.get("scores", {}).get(epoch), c["status"]))
    return entries


def write_search_log(run_dir: Path, results: dict[str, Any], candidate_dir: Callable[[int], Path]) -> Path:
    """Rewritten whole from results.json and each model's own log.jsonl (its dense or candidate
    directory) each time, so no line is ever doubled by a resume."""
    dense_dir = (results.get("dense") or {}).get("dir")
    dirs = {("candidate", c["id"]): candidate_dir(c["id"]) for c in results.get("candidates", [])}
    if dense_dir:
        dirs[("dense", None)] = Path(dense_dir)
    trained = {key: {e["epoch"]: e for e in read_epoch_log(folder / LOG_NAME)} for key, folder in dirs.items()}
    path = Path(run_dir) / LOG_NAME
    text = "".join(json.dumps(e) + "\n" for e in log_entries(results, trained))
    if not path.exists() or path.read_text() != text:
        atomic_write_text(path, text)
    return path
