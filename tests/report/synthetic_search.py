"""A synthetic results.json in the search's schema: an LSH search that finished, or one still running."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

N_CANDIDATES = 8
FAILED = 7                   # ids are integers, rounds count from 0, as the search writes them
ROUND_EPOCHS = (1, 2)        # 8 -> 4 -> 2 finalists
FINAL_EPOCH = 6


def _spectrum(rng: random.Random, shift: float, n: int = 12) -> list[float]:
    return [round(-0.05 * i + shift + rng.gauss(0, 0.01), 5) for i in range(n)]


def make_results(status: str = "complete", metric: str = "ls", seed: int = 0) -> dict:
    """A results.json in the search's schema. Complete: every candidate but the failed one has final
    perplexities (as after a `full` run), so correlations have 7 points. Running: round 2 is being scored."""
    rng = random.Random(seed)
    epochs = range(1, FINAL_EPOCH + 1)
    dense = {
        "valid_ppl": 180.0, "test_ppl": 172.5,
        "valid_ppl_by_epoch": {str(e): 400.0 / e ** 0.5 for e in epochs},
        "spectra": {str(e): _spectrum(rng, 0.0) for e in epochs},
    }
    candidates = []
    for i in range(N_CANDIDATES):
        cid = i
        quality = rng.uniform(0, 1)
        failed = cid == FAILED
        spectra = {} if failed else {str(e): _spectrum(rng, 0.02 + 0.1 * quality) for e in epochs}
        c = {
            "id": cid,
            "params": {"init": ["uniform", "ER"][i % 2], "death": ["magnitude", "SET-signed", "threshold",
                                                                    "global_magnitude"][i % 4],
                       "growth": "random", "redistribution": ["magnitude", "nonzeros", "none"][i % 3],
                       "death_rate": round(0.4 + 0.1 * (i % 6), 1)},
            "scores": {}, "valid_ppl_by_epoch": {}, "spectra": spectra,
            "epochs_trained": 0, "train_s": 10.0 * (i + 1), "spectrum_s": 1.5,
            "final_valid_ppl": None, "final_test_ppl": None,
            "status": "failed" if failed else "eliminated", "eliminated_in_round": None,
            "failure": "training loss became nan at epoch 1, step 50" if failed else None,
        }
        if not failed:
            for e in epochs:
                c["valid_ppl_by_epoch"][str(e)] = 420.0 / e ** 0.5 + 60 * quality + rng.gauss(0, 8)
            c["_quality"] = quality
        candidates.append(c)

    alive = [c for c in candidates if c["id"] != FAILED]
    rounds = []
    last = len(ROUND_EPOCHS) if status == "complete" else len(ROUND_EPOCHS) - 1
    for r, epoch in enumerate(ROUND_EPOCHS):
        scores = {}
        for c in alive:
            d = math.dist(c["spectra"][str(epoch)], dense["spectra"][str(epoch)])
            key = d if metric == "ls" else c["valid_ppl_by_epoch"][str(epoch)]
            c["scores"][str(epoch)] = key
            c["epochs_trained"] = epoch
            scores[str(c["id"])] = key
        ranked = sorted(alive, key=lambda c: c["scores"][str(epoch)])
        keep = ranked[: math.ceil(len(alive) / 2)] if len(alive) > 2 else ranked
        running_round = status == "running" and r >= last
        rounds.append({"round": r, "epoch": epoch, "candidates": [c["id"] for c in alive],
                       "kept": None if running_round else [c["id"] for c in keep], "scores": scores})
        if running_round:
            for c in alive:
                c["status"] = "running"
            break
        for c in alive:
            if c not in keep:
                c["eliminated_in_round"] = r
        alive = keep

    for c in candidates:
        q = c.pop("_quality", None)
        if status == "complete" and q is not None:
            c["final_valid_ppl"] = 150.0 + 60 * q + rng.gauss(0, 6)
            c["final_test_ppl"] = c["final_valid_ppl"] * 0.96
            if c in alive:
                c["status"] = "finalist"
                c["epochs_trained"] = FINAL_EPOCH
    winner = None
    if status == "complete":
        best = min(alive, key=lambda c: c["final_valid_ppl"])
        best["status"] = "winner"
        winner = {"id": best["id"], "params": best["params"], "valid_ppl": best["final_valid_ppl"],
                  "test_ppl": best["final_test_ppl"], "checkpoint": "candidates/x/checkpoints/last.pt",
                  "export_dir": "winner"}
    epochs_total = sum(c["epochs_trained"] for c in candidates)
    return {
        "status": status, "strategy": "lsh", "metric": metric,
        "config": {"search": {"strategy": "lsh", "metric": metric}, "train": {"epochs": FINAL_EPOCH}},
        "winner": winner, "dense": dense, "candidates": candidates, "rounds": rounds,
        "cost": {"epochs_total": epochs_total, "wall_s": 400.0, "train_s": 300.0, "spectrum_s": 24.0,
                 "full_training_epochs": N_CANDIDATES * FINAL_EPOCH},
    }


def write_run(folder: Path, results: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return folder


def make_context() -> dict:
    """RUN_DIR/context.json as `hyperprune.search.context.search_context` writes it."""
    return {
        "hyperprune_version": "0.1.0",
        "data": {"name": "ptb", "level": "word", "train_tokens": 929589, "valid_tokens": 73760, "test_tokens": 82430,
                 "vocab_size": 10000, "line": "ptb (word-level): 929,589 train / 73,760 valid / 82,430 test tokens, "
                                              "vocabulary 10,000"},
        "model": {"family": "lstm", "preset": "lstm-small", "num_layers": 2, "hidden_size": 200, "emb_size": 200,
                  "parameters": 4653200,
                  "line": "lstm (preset lstm-small), 2 layers x 200 hidden, embedding 200, 4,653,200 parameters"},
        "sparsity": {"sparsity": 0.9, "masked_groups": ["recurrent"],
                     "masked_tensors": {"layers.0.weight_hh": [800, 200], "layers.1.weight_hh": [800, 200]},
                     "masked_total": 320000, "line": "90% of the recurrent weights (uniform init, ...)"},
        "search": {"strategy": "lsh", "metric": "ls", "sampler": "tpe", "n_candidates": N_CANDIDATES,
                   "first_epoch": 1, "epochs_per_round": 1, "keep": 0.5, "finalists": 2, "final_epochs": FINAL_EPOCH,
                   "varied": ["sparse.init", "sparse.death"], "planned_rounds": [], "candidate_epochs": 0,
                   "full_training_epochs": N_CANDIDATES * FINAL_EPOCH},
        "lyapunov": {"convention": "reference", "k": None, "unit": "log2 per step", "sequences": 2, "length": 35,
                     "distance": "l2"},
        "seed": 1, "device": "cpu", "threads": 4,
    }
