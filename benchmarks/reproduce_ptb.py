"""CPU-scale reproduction of the LSH paper's claims on PTB (Zheng & Shlizerman, arXiv 2506.07975).

A seeded pool of candidates from the paper's search space (sparse init x death x growth x
redistribution x death rate, at sparsity 0.67) and the dense model are **all** trained to the full
budget with one small stacked-LSTM recipe, so the truth (every candidate's final perplexity) is known.
After every epoch we record the validation perplexity and four Lyapunov spectra (conventions
`reference` and `standard`, all exponents and the leading k = 64) of the model *before* the epoch's
sparse prune/regrow, as the released code saves and measures it (`lyapunov.measure: before-update`;
docs/paper.md); the record is written before the epoch's checkpoint, so a resumed run has it.
Our training continues from checkpoints deterministically, so a candidate's trajectory under LSH's
rounds is the prefix of its full run: the selections of `lsh` (metric `ls`, each spectrum variant), `lsh` (metric `loss`) and
`full` are then replayed offline from the recorded trajectories with the search's own round logic
(`hyperprune.search.rounds.advance`), with their compute counted from the recorded times; a score at
epoch e reads the record of the last epoch up to e that improved validation, the released code's
rule (`scored_epoch`). The rank correlations use epoch e's own record.

Resumable and safe to run in the background: every run lives in WORK/<name>/ (a Trainer run
directory that resumes from its last checkpoint) with its per-epoch record in trajectory.json;
finished runs are skipped. The analysis is rewritten after every finished run, so partial results
appear as the pool completes; `--analyse` redoes only the analysis.

    nohup .venv/bin/python benchmarks/reproduce_ptb.py > benchmarks/results/reproduce_ptb.log 2>&1 &
    .venv/bin/python benchmarks/reproduce_ptb.py --analyse     # results so far

Writes benchmarks/results/reproduce_ptb.json and reproduce_ptb_*.png, and a search report of the
`lsh` / `ls` / reference selection (`hyperprune report` on a results.json built from the replay)
under WORK/search_lsh_ls_reference/report/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path

import torch

from hyperprune.config import from_dict
from hyperprune.data import load_corpus
from hyperprune.data.config import DataConfig
from hyperprune.lyapunov import distance, make_probe, model_spectrum
from hyperprune.perplexity import perplexity
from hyperprune.search.measurement import last_improving
from hyperprune.search.rounds import FAILED, advance
from hyperprune.train import RunConfig, Trainer
from hyperprune.files import atomic_write_text
from hyperprune.train.trainer import TrainingDiverged

REPO = Path(__file__).resolve().parents[1]

# --- the experiment -------------------------------------------------------------------------------

# Measured first (2-core CPU shared with other work, 1 thread): an epoch over 100k tokens takes 30-90 s
# with the CPU contended, and SGD needs ~1000-1500 steps to leave the unigram plateau (validation
# perplexity ~750): so a 50k-token subset in small batches (500 steps per epoch) with a high lr.
DATA = {"name": "ptb", "train_tokens": 50_000, "valid_tokens": 15_000}       # test: the whole split
MODEL = {"preset": "lstm-small", "hidden_size": 64}                          # 2 x 64 stacked LSTM
TRAIN = {"epochs": 7, "batch_size": 5, "eval_batch_size": 10, "bptt": 20, "lr": 3.0, "clip": 5.0,
         "decay_after": 4, "lr_decay": 0.5}
SPARSITY = 0.67
# Only the recurrent weights are masked. At this scale the 10k-word embedding and softmax hold 95% of
# the weights; masking them too (with masks regrown every epoch) kept every candidate at the unigram
# plateau for the whole budget (first try: valid ppl 757-778 after 7 epochs against the dense 508),
# and the spectrum measures the recurrent core alone.
MASKED = ["recurrent"]
SEED = 0
POOL_SIZE = 26                  # the paper's released pool has 26
POOL_SEED = 0
# The paper's space at a fixed sparsity (hyperprune.search.space.paper_space): 2 x 4 x 1 x 3 x 6 = 144.
SPACE = {
    "init": ["uniform", "ER"],
    "death": ["magnitude", "SET-signed", "threshold", "global_magnitude"],
    "growth": ["random"],
    "redistribution": ["magnitude", "nonzeros", "none"],
    "death_rate": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
}
ROUNDS = {"e0": 1, "ei": 1, "keep": "half+1", "finalists": 2}   # keep: the paper's floor(n/2) + 1
MEASURED = "before-update"     # trajectories recorded otherwise (earlier versions) must be retrained
E0_CHOICES = (1, 2, 3)         # the selections are also replayed with later first scoring epochs
PROBE = {"n_sequences": 2, "length": 35, "warmup": 10, "seed": 0}   # the paper's probe
SPECTRA = {                                 # variant -> (convention, k, initial frame)
    "reference": ("reference", None, None),
    # The leading 64 need a random frame: the identity's first 64 columns span layer 0's first units.
    "reference_k64": ("reference", 64, "random"),
    "standard": ("standard", None, None),
    "standard_k64": ("standard", 64, None),
}
DISTANCE = "l2"
PAPER = {"source": "Zheng & Shlizerman, arXiv 2506.07975, PTB, stacked LSTM 2x1500 at sparsity 0.67",
         "spearman_distance_e0_vs_final": 0.72, "spearman_valid_ppl_e0_vs_final": 0.42, "pool": 26,
         "lsh_winner_valid_ppl": 72.27, "lsh_winner_test_ppl": 69.73, "dense_valid_ppl": 72.7,
         "full_over_lsh_compute": "about 10x"}


def draw_pool(size: int = POOL_SIZE, seed: int = POOL_SEED) -> list[dict]:
    """`size` distinct settings of the space in a seeded order; a larger pool extends a smaller one."""
    keys = list(SPACE)
    grid = [dict(zip(keys, values)) for values in itertools.product(*SPACE.values())]
    random.Random(seed).shuffle(grid)
    return grid[:size]


def run_config(sparse: dict | None) -> RunConfig:
    raw = {"data": DATA, "model": MODEL, "train": TRAIN, "seed": SEED, "device": "cpu",
           "sparse": {"sparsity": SPARSITY, "masked": MASKED, **sparse} if sparse else {"sparsity": 0.0}}
    return from_dict(RunConfig, raw)


# --- training with per-epoch records ----------------------------------------------------------------

def _encode(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def _decode(values: list) -> list[float]:
    return [float(v) for v in values]


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def record_epoch(trainer: Trainer, probe) -> dict:
    """Validation perplexity and the four spectra of the model as evaluated (ASGD averages if any),
    called in the trainer's `before_mask_update` hook: the epoch's validation has run, its prune and
    regrow have not. The epoch's times are filled in once it is complete (`on_epoch`)."""
    valid_loss = trainer.val_losses[-1]
    entry = {"valid_ppl": perplexity(valid_loss), "train_s": None, "epoch_s": None,
             "spectra": {}, "spectrum_s": {}}
    with trainer.evaluation_weights():
        for variant, (convention, k, init) in SPECTRA.items():
            start = time.perf_counter()
            spectrum = model_spectrum(trainer.model, probe, convention=convention, k=k, init=init,
                                      warmup=PROBE["warmup"], seed=PROBE["seed"])
            entry["spectrum_s"][variant] = time.perf_counter() - start
            entry["spectra"][variant] = [_encode(v) for v in spectrum.mean.tolist()]
    return entry


def train_run(name: str, params: dict | None, work: Path, corpus, probe, progress) -> dict:
    """Train one run to the full budget, recording every epoch; resumes and skips finished work."""
    run_dir = work / name
    path = run_dir / "trajectory.json"
    trajectory = read_json(path) or {"name": name, "params": params, "measured": MEASURED, "epochs": {},
                                     "final": None, "failure": None}
    if trajectory.get("measured") != MEASURED:
        raise RuntimeError(f"{name}: {path} was recorded after the mask update by an earlier version; "
                           f"delete {run_dir} (or use another --work) to measure before the update")
    if trajectory["final"] is not None or trajectory["failure"] is not None:
        return trajectory
    cfg = run_config(params)
    try:
        trainer = Trainer(cfg, run_dir, corpus=corpus, verbose=False, progress=False)
        missing = [e for e in range(1, trainer.epoch + 1) if str(e) not in trajectory["epochs"]]
        if missing:
            # Records are written before their checkpoint; a checkpoint without one is not ours.
            raise RuntimeError(f"{name}: trajectory.json lacks epochs {missing}; delete {run_dir} to retrain it")
        for e in range(1, trainer.epoch + 1):
            entry = trajectory["epochs"][str(e)]
            if entry["train_s"] is None:          # killed after the checkpoint, before on_epoch
                entry["train_s"] = trainer.history[e - 1].wall_s
        last = [time.perf_counter()]

        def before_update(t: Trainer, epoch: int) -> None:
            trajectory["epochs"][str(epoch)] = record_epoch(t, probe)
            atomic_write_text(path, json.dumps(trajectory) + "\n")

        def on_epoch(t: Trainer, record) -> None:
            entry = trajectory["epochs"][str(t.epoch)]
            entry.update(train_s=record.wall_s, epoch_s=time.perf_counter() - last[0])
            atomic_write_text(path, json.dumps(trajectory) + "\n")
            progress(name, t.epoch, entry)
            last[0] = time.perf_counter()

        trainer.train(on_epoch=on_epoch, before_mask_update=before_update)
        trajectory["final"] = {"valid_ppl": trainer.evaluate("valid"), "test_ppl": trainer.evaluate("test"),
                               "epochs": trainer.epoch, "train_wall_s": trainer.train_wall_s}
    except TrainingDiverged as exc:
        trajectory["failure"] = str(exc)
    atomic_write_text(path, json.dumps(trajectory) + "\n")
    return trajectory


# --- offline replay of the selections -------------------------------------------------------------

def spectrum_at(trajectory: dict, epoch: int, variant: str) -> torch.Tensor | None:
    entry = trajectory["epochs"].get(str(epoch))
    if entry is None:
        return None
    return torch.tensor(_decode(entry["spectra"][variant]), dtype=torch.float64)


def distance_at(candidate: dict, dense: dict, epoch: int, variant: str) -> float | None:
    a, b = spectrum_at(candidate, epoch, variant), spectrum_at(dense, epoch, variant)
    return None if a is None or b is None else finite_distance(a, b)


def finite_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # non-finite exponents: counted below
        d = distance(DISTANCE, a, b)
    return d if math.isfinite(d) else math.inf              # a broken spectrum ranks last


def scored_epoch(trajectory: dict, epoch: int) -> int:
    """The epoch whose record LSH scores at `epoch`: the last one up to it that improved validation,
    as the released code saves and compares (`lyapunov.measure: last-improving`, docs/paper.md)."""
    ppl = []
    for e in range(1, epoch + 1):
        entry = trajectory["epochs"].get(str(e))
        if entry is None:
            return epoch                     # not recorded yet: the caller finds nothing there
        ppl.append(entry["valid_ppl"])       # perplexity orders epochs as the loss does
    return last_improving(ppl, epoch)


def score_fn(metric: str, variant: str | None, dense: dict):
    def score(candidate: dict, epoch: int):
        if candidate["failure"] is not None and str(epoch) not in candidate["epochs"]:
            return FAILED
        k = scored_epoch(candidate, epoch)
        if metric == "loss":
            entry = candidate["epochs"].get(str(k))
            return None if entry is None else entry["valid_ppl"]
        a = spectrum_at(candidate, k, variant)
        b = spectrum_at(dense, scored_epoch(dense, epoch), variant)
        return None if a is None or b is None else finite_distance(a, b)
    return score


def replay_lsh(pool: dict[str, dict], dense: dict, metric: str, variant: str | None, final_epoch: int,
               e0: int) -> dict:
    """The rounds `lsh` would have run on this pool, its winner and the compute it needed."""
    ids = sorted(pool)
    index = {cid: i for i, cid in enumerate(ids)}               # rounds work on integer ids
    score = score_fn(metric, variant, dense)
    first = {}
    for cid in ids:
        s = score(pool[cid], e0)
        if s is not FAILED and s is not None:
            first[index[cid]] = s
    progress = advance(first, lambda c, e: score(pool[ids[c]], e), e0=e0, ei=ROUNDS["ei"], final=final_epoch,
                       keep=ROUNDS["keep"], finalists=ROUNDS["finalists"])
    if progress.pending:
        return {"note": f"incomplete pool: scores pending for {len(progress.pending)} candidate(s)"}
    finalists = [ids[c] for c in progress.finalists]
    finals = {cid: pool[cid]["final"] for cid in finalists if pool[cid]["final"] is not None}
    winner = min(finals, key=lambda cid: (finals[cid]["valid_ppl"], cid)) if finals else None

    # Compute: every candidate trains to the last epoch it was scored at; finalists to the budget.
    reached = {ids[c]: e0 for c in first}
    scored: list[tuple[str, int]] = []
    for r in progress.rounds:
        for c in r.candidates:
            reached[ids[c]] = max(reached[ids[c]], r.epoch)
            scored.append((ids[c], r.epoch))
    for cid in finalists:
        reached[cid] = final_epoch
    epochs = sum(reached.values())
    wall = sum(epoch_seconds(pool[cid], e) for cid, last in reached.items() for e in range(1, last + 1))
    score_epochs = sorted({r.epoch for r in progress.rounds})
    dense_epochs = max(score_epochs) if metric == "ls" and score_epochs else 0
    dense_wall = sum(epoch_seconds(dense, e) for e in range(1, dense_epochs + 1))
    spectrum_wall = 0.0
    if metric == "ls":
        spectrum_wall = sum(pool[cid]["epochs"][str(e)]["spectrum_s"][variant] for cid, e in scored)
        spectrum_wall += sum(dense["epochs"][str(e)]["spectrum_s"][variant] for e in score_epochs)
    return {
        "rounds": [{"round": r.round, "epoch": r.epoch, "candidates": [ids[c] for c in r.candidates],
                    "kept": [ids[c] for c in r.kept], "scores": {ids[c]: s for c, s in r.scores.items()}}
                   for r in progress.rounds],
        "finalists": finalists,
        "winner": winner,
        "final_valid_ppl": finals[winner]["valid_ppl"] if winner else None,
        "final_test_ppl": finals[winner]["test_ppl"] if winner else None,
        "candidate_epochs": epochs,
        "dense_epochs": dense_epochs,
        "epochs": epochs + dense_epochs,
        "wall_s": wall + dense_wall + spectrum_wall,
        "spectrum_s": spectrum_wall,
        "reached": reached,
    }


def epoch_seconds(trajectory: dict, epoch: int) -> float:
    """Training plus validation time of one epoch (training time alone where the epoch was resumed)."""
    entry = trajectory["epochs"][str(epoch)]
    return entry["epoch_s"] if entry.get("epoch_s") is not None else entry["train_s"]


def replay_full(pool: dict[str, dict], final_epoch: int) -> dict:
    done = {cid: t for cid, t in pool.items() if t["final"] is not None}
    winner = min(done, key=lambda cid: (done[cid]["final"]["valid_ppl"], cid))
    return {"winner": winner, "final_valid_ppl": done[winner]["final"]["valid_ppl"],
            "final_test_ppl": done[winner]["final"]["test_ppl"],
            "epochs": sum(len(t["epochs"]) for t in pool.values()),
            "wall_s": sum(epoch_seconds(t, int(e)) for t in pool.values() for e in t["epochs"]),
            "spectrum_s": 0.0}


def select_all(pool: dict[str, dict], dense: dict, final_epoch: int, e0: int, by_final: list[str]) -> dict:
    """Every selection replayed with first scoring epoch e0, with its winner's rank and compute ratio."""
    selections = {"full": replay_full(pool, final_epoch)}
    for variant in SPECTRA:
        selections[f"lsh_ls_{variant}"] = replay_lsh(pool, dense, "ls", variant, final_epoch, e0)
    selections["lsh_loss"] = replay_lsh(pool, dense, "loss", None, final_epoch, e0)
    full = selections["full"]
    for name, sel in selections.items():
        if sel.get("winner") is None:
            continue
        sel["rank_of_winner_by_final_valid"] = by_final.index(sel["winner"]) + 1
        sel["params"] = pool[sel["winner"]]["params"]
        if name != "full":
            sel["full_over_this_epochs"] = full["epochs"] / sel["epochs"]
            sel["full_over_this_wall"] = full["wall_s"] / sel["wall_s"]
    return selections


def rank_correlations(x: list[float], y: list[float]) -> dict:
    from hyperprune.report import rank_correlation
    return rank_correlation(x, y).to_dict()


def analyse(work: Path, out: Path, pool_params: dict[str, dict], state: dict | None = None) -> dict | None:
    dense = read_json(work / "dense" / "trajectory.json")
    pool = {cid: t for cid in pool_params if (t := read_json(work / cid / "trajectory.json")) is not None}
    complete = {cid: t for cid, t in pool.items() if t["final"] is not None or t["failure"] is not None}
    if dense is None or dense["final"] is None or len(complete) < 3:
        return None
    final_epoch = TRAIN["epochs"]
    finished = {cid: t for cid, t in complete.items() if t["final"] is not None}
    ids = sorted(finished)
    final = [finished[c]["final"]["valid_ppl"] for c in ids]
    # Settings that train identically (here: ER and uniform init give the same masks when every
    # masked tensor has the same shape) are one point counted twice; correlations are also given
    # over the distinct trajectories.
    distinct = list({tuple(round(r["valid_ppl"], 6) for _, r in sorted(finished[c]["epochs"].items()))
                     + (round(finished[c]["final"]["test_ppl"], 6),): c for c in reversed(ids)}.values())
    distinct.sort()

    correlations: dict = {"valid_ppl": {}, "distance": {v: {} for v in SPECTRA}}
    for e in range(1, final_epoch):
        ppl = [finished[c]["epochs"][str(e)]["valid_ppl"] for c in ids]
        correlations["valid_ppl"][str(e)] = rank_correlations(ppl, final)
        for variant in SPECTRA:
            dist = [distance_at(finished[c], dense, e, variant) for c in ids]
            pairs = [(d, f) for d, f in zip(dist, final) if d is not None and math.isfinite(d)]
            correlations["distance"][variant][str(e)] = rank_correlations([p[0] for p in pairs],
                                                                         [p[1] for p in pairs])
    e0 = str(ROUNDS["e0"])
    by_final = sorted(ids, key=lambda c: finished[c]["final"]["valid_ppl"])
    selections_by_e0 = {str(e): select_all(complete, dense, final_epoch, e, by_final) for e in E0_CHOICES}
    selections = selections_by_e0[e0]
    result = {
        "status": "complete" if len(complete) == len(pool_params) else "partial",
        "setup": {"data": DATA, "model": MODEL, "train": TRAIN, "sparsity": SPARSITY, "masked": MASKED,
                  "seed": SEED,
                  "pool_size": len(pool_params), "pool_seed": POOL_SEED, "space": SPACE, "rounds": ROUNDS,
                  "probe": PROBE, "spectra": {v: {"convention": c, "k": k, "init": i} for v, (c, k, i) in SPECTRA.items()},
                  "distance": DISTANCE, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                  "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared)",
                  # wall: first start of the work dir to the end of the last run (restarts included);
                  # compute: the recorded epochs (training + validation) and spectra of every run.
                  "wall_s": (state["finished"] - state["started"]) if state and "finished" in state else None,
                  "compute_s": sum(epoch_seconds(t, int(e)) + sum(t["epochs"][e]["spectrum_s"].values())
                                   for t in [dense, *complete.values()] for e in t["epochs"])},
        "dense": {"final_valid_ppl": dense["final"]["valid_ppl"], "final_test_ppl": dense["final"]["test_ppl"],
                  "valid_ppl_by_epoch": {e: r["valid_ppl"] for e, r in dense["epochs"].items()},
                  "train_s": sum(r["train_s"] for r in dense["epochs"].values())},
        "pool": [{"id": cid, "params": t["params"], "failure": t["failure"],
                  "final_valid_ppl": t["final"]["valid_ppl"] if t["final"] else None,
                  "final_test_ppl": t["final"]["test_ppl"] if t["final"] else None,
                  "valid_ppl_by_epoch": {e: r["valid_ppl"] for e, r in t["epochs"].items()},
                  "distance_by_epoch": {v: {e: distance_at(t, dense, int(e), v) for e in t["epochs"]}
                                        for v in SPECTRA},
                  "train_s": sum(r["train_s"] for r in t["epochs"].values())}
                 for cid, t in sorted(complete.items())],
        "headline": {
            "n": len(ids),
            "e0": ROUNDS["e0"],
            "spearman_valid_ppl_e0_vs_final": correlations["valid_ppl"][e0]["spearman"],
            "spearman_distance_e0_vs_final": {v: correlations["distance"][v][e0]["spearman"] for v in SPECTRA},
            # A signal known before any training, for scale: the death rate alone.
            "spearman_death_rate_vs_final": rank_correlations(
                [finished[c]["params"]["death_rate"] for c in ids], final)["spearman"],
            "distinct_trajectories": len(distinct),
            "spearman_distance_e0_vs_final_distinct": {
                v: rank_correlations([distance_at(finished[c], dense, int(e0), v) for c in distinct],
                                     [finished[c]["final"]["valid_ppl"] for c in distinct])["spearman"]
                for v in SPECTRA},
            "final_valid_ppl": {name: sel.get("final_valid_ppl") for name, sel in selections.items()},
            "final_test_ppl": {name: sel.get("final_test_ppl") for name, sel in selections.items()},
            "dense_valid_ppl": dense["final"]["valid_ppl"],
            "dense_test_ppl": dense["final"]["test_ppl"],
            "full_over_lsh_wall": {name: sel.get("full_over_this_wall") for name, sel in selections.items()
                                   if name != "full"},
            "rank_of_winner_by_final_valid": {name: sel.get("rank_of_winner_by_final_valid")
                                              for name, sel in selections.items()},
            "by_e0": {e: {"spearman_valid_ppl": correlations["valid_ppl"][e]["spearman"],
                          "spearman_distance": {v: correlations["distance"][v][e]["spearman"] for v in SPECTRA},
                          "final_valid_ppl": {n: sel.get("final_valid_ppl") for n, sel in by_e0.items()},
                          "rank_of_winner": {n: sel.get("rank_of_winner_by_final_valid") for n, sel in by_e0.items()},
                          "full_over_lsh_wall": {n: sel.get("full_over_this_wall") for n, sel in by_e0.items()
                                                 if n != "full"}}
                      for e, by_e0 in selections_by_e0.items()},
        },
        "correlations": correlations,
        "selections": selections,
        "selections_by_e0": {e: {n: {k: v for k, v in sel.items() if k not in ("rounds", "reached")}
                                 for n, sel in by_e0.items()} for e, by_e0 in selections_by_e0.items()},
        "paper": PAPER,
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "reproduce_ptb.json", json.dumps(result, indent=2) + "\n")
    write_figures(result, complete, dense, out)
    write_search_report(work, result, complete, dense, "reference")
    return result


# --- figures and a search report ------------------------------------------------------------------

def write_figures(result: dict, pool: dict[str, dict], dense: dict, out: Path) -> None:
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    e0 = ROUNDS["e0"]
    rows = [p for p in result["pool"] if p["final_valid_ppl"] is not None]
    final = [p["final_valid_ppl"] for p in rows]

    def save(fig: Figure, name: str) -> None:
        FigureCanvasAgg(fig)
        fig.savefig(out / name, dpi=110, bbox_inches="tight")

    fig = Figure(figsize=(10, 8), layout="constrained")
    for i, variant in enumerate(SPECTRA):
        ax = fig.add_subplot(2, 2, i + 1)
        x = [p["distance_by_epoch"][variant].get(str(e0)) for p in rows]
        ax.scatter(x, final, s=30, edgecolors="black", linewidths=0.4)
        for p, xi, yi in zip(rows, x, final):
            ax.annotate(p["id"], (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6)
        rho = result["correlations"]["distance"][variant][str(e0)]
        ax.set_title(f"{variant}: Spearman ρ = {_fmt(rho['spearman'])}, τ = {_fmt(rho['kendall'])}", fontsize=9)
        ax.set_xlabel(f"L2 spectrum distance to dense at epoch {e0}")
        ax.set_ylabel("final validation perplexity")
        ax.grid(alpha=0.3)
    fig.suptitle(f"Spectrum distance at e0 vs final perplexity ({len(rows)} candidates; paper: ρ = 0.72)")
    save(fig, "reproduce_ptb_distance_vs_final.png")

    fig = Figure(figsize=(5 * len(E0_CHOICES), 4.5), layout="constrained")
    for i, epoch in enumerate(E0_CHOICES):
        ax = fig.add_subplot(1, len(E0_CHOICES), i + 1)
        x = [p["valid_ppl_by_epoch"][str(epoch)] for p in rows]
        ax.scatter(x, final, s=30, edgecolors="black", linewidths=0.4)
        for p, xi, yi in zip(rows, x, final):
            ax.annotate(p["id"], (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6)
        rho = result["correlations"]["valid_ppl"][str(epoch)]
        why = f" ({rho['note']})" if rho.get("note") else ""
        ax.set_title(f"epoch {epoch}: Spearman ρ = {_fmt(rho['spearman'])}, τ = {_fmt(rho['kendall'])}"
                     f"{why}", fontsize=8, wrap=True)
        ax.set_xlabel(f"validation perplexity at epoch {epoch}")
        ax.set_ylabel("final validation perplexity")
        ax.grid(alpha=0.3)
    fig.suptitle(f"Validation perplexity early vs final ({len(rows)} candidates; paper at its e0: ρ = 0.42)")
    save(fig, "reproduce_ptb_ppl_vs_final.png")

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    norm = Normalize(min(final), max(final))
    cmap = colormaps["viridis"]
    for i, variant in enumerate(("reference", "standard")):
        ax = fig.add_subplot(1, 2, i + 1)
        for p in rows:
            s = spectrum_at(pool[p["id"]], e0, variant)
            ax.plot(range(1, len(s) + 1), s.numpy(), color=cmap(norm(p["final_valid_ppl"])), lw=0.8, alpha=0.8)
        d = spectrum_at(dense, e0, variant)
        ax.plot(range(1, len(d) + 1), d.numpy(), color="black", lw=2, label="dense")
        ax.set_title(f"{variant} spectra at epoch {e0} (colour: final valid ppl)", fontsize=9)
        ax.set_xlabel("exponent index")
        ax.set_ylabel("exponent" + (" (log2 / step)" if variant == "reference" else " (per step)"))
        ax.legend(fontsize=8)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=fig.axes, label="final validation perplexity")
    save(fig, "reproduce_ptb_spectra.png")

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    epochs = sorted(int(e) for e in result["correlations"]["valid_ppl"])
    ax.plot(epochs, [result["correlations"]["valid_ppl"][str(e)]["spearman"] for e in epochs], "k-o",
            label="validation ppl")
    for variant in SPECTRA:
        ax.plot(epochs, [result["correlations"]["distance"][variant][str(e)]["spearman"] for e in epochs],
                "-o", ms=3, label=f"distance ({variant})")
    ax.set_xlabel("epoch of the early signal")
    ax.set_ylabel("Spearman ρ with final validation ppl")
    ax.axhline(0, color="#999", lw=0.8)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save(fig, "reproduce_ptb_rho_by_epoch.png")


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def write_search_report(work: Path, result: dict, pool: dict[str, dict], dense: dict, variant: str) -> None:
    """results.json in the search's schema for the replayed lsh/ls selection, and its HTML report."""
    from hyperprune.report import write_report

    sel = result["selections"][f"lsh_ls_{variant}"]
    if "rounds" not in sel:
        return
    eliminated = {}
    for r in sel["rounds"]:
        for cid in r["candidates"]:
            if cid not in r["kept"]:
                eliminated[cid] = r["round"]
    candidates = []
    for cid, t in sorted(pool.items()):
        reached = sel["reached"].get(cid, 0)
        epochs = {e: r for e, r in t["epochs"].items() if int(e) <= reached}
        status = ("failed" if t["failure"] else "winner" if cid == sel["winner"]
                  else "finalist" if cid in sel["finalists"] else "eliminated")
        finalist = cid in sel["finalists"]
        candidates.append({
            "id": cid, "params": t["params"],
            "scores": {str(r["epoch"]): r["scores"][cid] for r in sel["rounds"] if cid in r["scores"]},
            # The whole pool was trained, so every candidate's final perplexity is known: shown for
            # all (the correlations need it), although lsh itself trained only the finalists.
            "valid_ppl_by_epoch": {e: r["valid_ppl"] for e, r in t["epochs"].items()},
            "spectra": {e: r["spectra"][variant] for e, r in epochs.items()},
            "epochs_trained": reached, "train_s": sum(r["train_s"] for r in epochs.values()),
            "spectrum_s": sum(r["spectrum_s"][variant] for e, r in epochs.items()
                              if any(str(x["epoch"]) == e and cid in x["scores"] for x in sel["rounds"])),
            "final_valid_ppl": t["final"]["valid_ppl"] if t["final"] else None,
            "final_test_ppl": t["final"]["test_ppl"] if t["final"] else None,
            "status": status, "eliminated_in_round": None if finalist else eliminated.get(cid),
            "failure": t["failure"],
        })
    results = {
        "status": "complete", "strategy": "lsh", "metric": "ls",
        "config": {"note": "replayed offline by benchmarks/reproduce_ptb.py", "data": DATA, "model": MODEL,
                   "train": TRAIN, "search": {"strategy": "lsh", "metric": "ls", **ROUNDS},
                   "lyapunov": {"convention": variant, **PROBE}},
        "winner": {"id": sel["winner"], "params": sel.get("params"), "valid_ppl": sel["final_valid_ppl"],
                   "test_ppl": sel["final_test_ppl"], "checkpoint": str(work / sel["winner"] / "checkpoints"),
                   "export_dir": None},
        "dense": {"valid_ppl": dense["final"]["valid_ppl"], "test_ppl": dense["final"]["test_ppl"],
                  "valid_ppl_by_epoch": {e: r["valid_ppl"] for e, r in dense["epochs"].items()},
                  "spectra": {e: r["spectra"][variant] for e, r in dense["epochs"].items()}},
        "candidates": candidates,
        "rounds": sel["rounds"],
        "cost": {"epochs_total": sel["epochs"], "wall_s": sel["wall_s"],
                 "train_s": sel["wall_s"] - sel["spectrum_s"], "spectrum_s": sel["spectrum_s"],
                 "full_training_epochs": len(pool) * TRAIN["epochs"]},
    }
    run_dir = work / f"search_lsh_ls_{variant}"
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "results.json", json.dumps(results, indent=2) + "\n")
    write_report(run_dir)


# --- driver ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default=str(REPO / "runs" / "reproduce_ptb"),
                        help="run directories and per-epoch records (git-ignored)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--data-dir", default=None, help="corpora folder (else $HYPERPRUNE_DATA, ../shared/data)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves a core to others)")
    parser.add_argument("--pool", type=int, default=POOL_SIZE, help="candidates (a larger pool extends a smaller)")
    parser.add_argument("--analyse", action="store_true", help="only (re)write the analysis from saved runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    work, out = Path(args.work), Path(args.out)
    data_dir = args.data_dir or os.environ.get("HYPERPRUNE_DATA") or str(REPO.parent / "shared" / "data")
    DATA["data_dir"] = data_dir
    pool = {f"c{i:02d}": params for i, params in enumerate(draw_pool(args.pool))}
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_text(work / "pool.json", json.dumps(pool, indent=2) + "\n")
    state = read_json(work / "state.json") or {"started": time.time()}
    atomic_write_text(work / "state.json", json.dumps(state) + "\n")

    if args.analyse:
        result = analyse(work, out, pool, state)
        print(json.dumps(result["headline"], indent=2) if result else "not enough finished runs yet")
        return 0

    corpus = load_corpus(from_dict(DataConfig, DATA, "data"))
    probe = make_probe(corpus.valid, n_sequences=PROBE["n_sequences"], length=PROBE["length"],
                       seed=PROBE["seed"], warmup=PROBE["warmup"])
    runs = [("dense", None), *pool.items()]
    total_epochs = len(runs) * TRAIN["epochs"]
    session = {"start": time.perf_counter(), "epochs": 0}

    def done_epochs() -> int:
        n = 0
        for name, _ in runs:
            t = read_json(work / name / "trajectory.json")
            if t is not None:
                n += TRAIN["epochs"] if (t["final"] or t["failure"]) else len(t["epochs"])
        return n

    def progress(name: str, epoch: int, entry: dict) -> None:
        session["epochs"] += 1
        per_epoch = (time.perf_counter() - session["start"]) / session["epochs"]
        left = total_epochs - done_epochs()
        print(f"{time.strftime('%H:%M:%S')} {name} epoch {epoch}/{TRAIN['epochs']} | valid ppl "
              f"{entry['valid_ppl']:8.2f} | train {entry['train_s']:5.1f} s | spectra "
              f"{sum(entry['spectrum_s'].values()):4.1f} s | {left} epochs left, ETA "
              f"{left * per_epoch / 60:.0f} min", flush=True)

    print(f"{len(runs)} runs x {TRAIN['epochs']} epochs; {done_epochs()} epochs already done; work dir {work}",
          flush=True)
    for name, params in runs:
        trajectory = train_run(name, params, work, corpus, probe, progress)
        if trajectory["failure"]:
            print(f"{name} failed: {trajectory['failure']}", flush=True)
        elif trajectory["final"]:
            f = trajectory["final"]
            print(f"{name} done: valid {f['valid_ppl']:.2f} test {f['test_ppl']:.2f}", flush=True)
        if name != "dense":
            try:
                analyse(work, out, pool, state)
            except Exception as exc:  # noqa: BLE001 -- analysis must never stop training; --analyse redoes it
                print(f"analysis failed ({type(exc).__name__}: {exc}); training goes on", flush=True)
    if "finished" not in state:
        state["finished"] = time.time()
        atomic_write_text(work / "state.json", json.dumps(state) + "\n")
    result = analyse(work, out, pool, state)
    print(json.dumps(result["headline"] if result else {}, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
