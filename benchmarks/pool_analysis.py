"""What the PTB pool says about LSH: rank correlations with bootstrap CIs, and the search strategies
replayed on random sub-pools with the search's own code (issue 11). Reads only committed records.

    .venv/bin/python benchmarks/pool_analysis.py            # the pool (benchmarks/results/pool-ptb/)
    .venv/bin/python benchmarks/pool_analysis.py --paper    # the paper's own pool: rho 0.72 and 0.42

**The pool** (`benchmarks/pool_ptb.py`): seed-0 candidates are the pool, `dense-s0` the reference
whose spectrum LS distances are taken to at the same epoch, the other seeds the noise floor. The
truth is a candidate's final validation perplexity. At every epoch e < final, against the truth:

    ls_reference    L2 distance of the `reference` spectrum (all exponents) to dense's, before the update
    ls_standard_k64 the same with the `standard` spectrum, k = 64
    valid_ppl       validation perplexity at e, before the mask update (what the search scores)
    death_rate      the candidate's death rate: a prior known before training

each as Spearman rho and Kendall tau-b, with a percentile bootstrap 95% CI over candidates.

**The replay.** On `--subpools` random sub-pools of 16 candidates (each drawn without replacement):
`lsh` with `ls` (reference, and standard k = 64) and with `loss`, the paper's rounds
(`hyperprune.search.rounds.advance`, keep half+1, 2 finalists, one more epoch a round, the winner
the finalist with the best final validation perplexity) at e0 in {1, 2, 3}; `asha` on loss
(Optuna's successive-halving pruner as the search builds it, `hyperprune.search.strategies.asha.ASHA`, its
`pruner()` and `rungs`; trials arrive one after the other in the sub-pool's
order); `full` (every candidate to the end); `random` (one candidate to the end). Regret is the
pick's final validation perplexity minus the sub-pool's best; cost counts the epochs every
candidate is trained (the dense reference's epochs too, for `ls`) and their measured seconds:
training, validation, mask update and checkpoint of each epoch, plus the spectrum of each scoring.
Sub-pools share candidates, so the spread over sub-pools is not a sampling CI for a new pool: we
give the mean with a bootstrap CI over sub-pools, and the 2.5-97.5 percentile range of the regret.

Writes benchmarks/results/pool_ptb_analysis.json, pool_ptb_rho_by_epoch.png,
pool_ptb_regret_vs_cost.png and pool_ptb_seed_noise.png (for `--records .../pool-ptb-recurrent`,
the recurrent-only pool: pool_ptb_recurrent_*). Partial records are fine: it says how
many runs it read and analyses what is there.

**The paper's pool** (`--paper`; `--extract-paper-pool MIRROR` rebuilds its table): 26 candidates
of the released trials pickle, with the LS distance and validation perplexity at epoch 3, against
the final test perplexities listed in the released `sources/plotter.py` (`late_ppl0`, in the order
of the trial indices listed there). plotter.py's own early-ppl series is the test perplexity of LE
pickles that were not released; the trials pickle's epoch-3 validation perplexity gives the paper's
0.42 (its epoch-3 test perplexity gives 0.44). The same correlation code prints Spearman 0.72 (LS) and 0.42 (ppl).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import pickle
import re
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from hyperprune.report.rank_correlation import rank_correlation

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RECORDS = RESULTS / "pool-ptb"
PAPER_POOL = RESULTS / "paper_pool_lstm_ptb.json"
PAPER_MIRROR = Path("/work/.mirror/FATE4869+hyperpruning/repo")
PAPER_TRIALS = "trials/LSTM_PTB/LE_tpe_trials_num_40_ind_100.pickle"
PAPER_PLOTTER = "sources/plotter.py"

SUBPOOL = 16
ROUNDS = {"ei": 1, "keep": "half+1", "finalists": 2}     # the paper's rounds
E0_CHOICES = (1, 2, 3)
METRICS = ("ls_reference", "ls_standard_k64", "valid_ppl", "death_rate")
SPECTRUM_OF = {"ls_reference": "reference", "ls_standard_k64": "standard_k64"}
N_BOOT = 1000


# --- rank correlation with a bootstrap CI ------------------------------------------------------------

def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair of (B, n) arrays: Pearson of average ranks (scipy's definition)."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each row pair: (concordant - discordant) / sqrt(untied-x pairs * untied-y pairs)."""
    sx = np.sign(x[:, :, None] - x[:, None, :])              # (B, n, n)
    sy = np.sign(y[:, :, None] - y[:, None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum((1, 2)) / np.sqrt(np.abs(sx).sum((1, 2)) * np.abs(sy).sum((1, 2)))


def correlation_with_ci(x, y, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Spearman and Kendall (hyperprune.report.rank_correlation) and their percentile bootstrap 95% CIs
    (candidates resampled with replacement; a resample with a constant side is dropped)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    point = rank_correlation(x.tolist(), y.tolist())
    out = {"n": point.n, "spearman": point.spearman, "kendall": point.kendall, "note": point.note,
           "spearman_ci": None, "kendall_ci": None}
    if point.spearman is None:
        return out
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))
    for name, fn in (("spearman", _spearman_rows), ("kendall", _kendall_rows)):
        values = fn(x[idx], y[idx])
        values = values[np.isfinite(values)]
        out[f"{name}_ci"] = [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
    return out


def describe(c: dict) -> str:
    if c["spearman"] is None:
        return c["note"]
    return (f"rho = {c['spearman']:.2f} [{c['spearman_ci'][0]:.2f}, {c['spearman_ci'][1]:.2f}], "
            f"tau = {c['kendall']:.2f} [{c['kendall_ci'][0]:.2f}, {c['kendall_ci'][1]:.2f}] (n = {c['n']})")


# --- the paper's pool ----------------------------------------------------------------------------------

class _Opaque:
    """Stands in for a class the pickle names but we do not import (argparse, numpy, torch objects)."""

    def __init__(self, *args):
        self.args = args

    def __setstate__(self, state):
        self.state = state


class _TrialsUnpickler(pickle.Unpickler):
    """Reads the released trials pickle without hyperopt, numpy's pickle layout or CUDA."""

    def find_class(self, module, name):
        if (module, name) in {("collections", "defaultdict"), ("builtins", "list")}:
            return super().find_class(module, name)
        return type(name, (_Opaque,), {"module": module})


def _scalar(value) -> float:
    """A float from an unpickled numpy scalar (dtype, raw bytes) or a plain number."""
    if isinstance(value, _Opaque):
        dtype, raw = value.args
        assert dtype.args[0] == "f8" and len(raw) == 8, (dtype.args, raw)
        return struct.unpack("<d", raw)[0]
    return float(value)


def extract_paper_pool(mirror: Path = PAPER_MIRROR) -> dict:
    """The 26-candidate table: trials pickle (epoch-3 numbers) joined with plotter.py's final values."""
    git = lambda *args: subprocess.run(["git", "-C", str(mirror), *args], check=True, capture_output=True).stdout
    commit = git("rev-parse", "HEAD").decode().strip()
    trials = _TrialsUnpickler(io.BytesIO(git("show", f"HEAD:{PAPER_TRIALS}"))).load()
    plotter = git("show", f"HEAD:{PAPER_PLOTTER}").decode()
    indices = json.loads(re.search(r"indices = (\[[\d, ]+\])", plotter).group(1))
    finals = json.loads(re.search(r"late_ppl0 = (\[[\d., ]+\])", plotter).group(1))
    by_trial = {}
    for key, result in trials.items():
        args = result["args"].state
        by_trial[args["trial_num"]] = {
            "trial": args["trial_num"], "init": args["init"], "death": args["death"], "growth": args["growth"],
            "redistribution": args["redistribution"], "death_rate": round(_scalar(args["death_rate"]), 10),
            "ls_distance_e3": result["loss"], "valid_ppl_e3": result["val_loss"], "test_ppl_e3": result["test_loss"],
        }
    assert sorted(by_trial) == sorted(indices), (sorted(by_trial), indices)
    rows = [dict(by_trial[i], final_ppl=f) for i, f in zip(indices, finals)]
    return {
        "source": {"repository": "https://github.com/FATE4869/hyperpruning", "commit": commit,
                   "trials": PAPER_TRIALS, "finals": f"{PAPER_PLOTTER} (scatter_plot: indices, late_ppl0)",
                   "paper": "Zheng & Shlizerman, arXiv 2506.07975, Fig. 1-B/C: Spearman 0.72 (LS) and 0.42 (ppl)"},
        "fields": {
            "ls_distance_e3": "trials result 'loss': LE_distance, the hyperopt objective (sources/first_round.py:68), LS distance to dense at epoch 3",
            "valid_ppl_e3": "trials result 'val_loss': math.exp(val_loss) (first_round.py:68), validation perplexity at epoch 3",
            "test_ppl_e3": "trials result 'test_loss': test perplexity at epoch 3",
            "final_ppl": "plotter.py:42 late_ppl0, in the order of its indices (plotter.py:12): each trial's final "
                         "test perplexity (trial 136's 69.73 is the test ppl the paper reports for the LSH winner)",
            "death_rate": "args.death_rate (a pickled numpy float64)",
        },
        "model": "stacked LSTM 2x1500, untied, dropout 0.65, sparsity 0.67, SGD lr 40 clip 0.25, seed 42",
        "candidates": rows,
    }


def paper_check(table: dict, n_boot: int = N_BOOT) -> dict:
    rows = table["candidates"]
    final = [r["final_ppl"] for r in rows]
    return {name: correlation_with_ci([r[field] for r in rows], final, n_boot)
            for name, field in (("ls_distance_e3", "ls_distance_e3"), ("valid_ppl_e3", "valid_ppl_e3"),
                                ("test_ppl_e3", "test_ppl_e3"), ("death_rate", "death_rate"))}


# --- the pool's records -------------------------------------------------------------------------------

def load_records(folder: Path = RECORDS) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _number(v) -> float:
    return float(v)          # "inf" / "nan" strings come back as floats too


class Pool:
    """Seed-0 candidates with a final perplexity, the dense reference, and per-epoch lookups."""

    def __init__(self, records: list[dict]):
        self.records = records
        self.dense = next((r for r in records if r["kind"] == "dense" and r["seed"] == 0), None)
        self.candidates = sorted((r for r in records if r["kind"] == "candidate" and r["seed"] == 0),
                                 key=lambda r: r["candidate"])
        self.failed = [r["name"] for r in self.candidates if r["final"] is None]
        self.candidates = [r for r in self.candidates if r["final"] is not None]
        self.final_epoch = max((r["final"]["epochs"] for r in self.candidates), default=0)
        self.final = np.array([_number(r["final"]["valid_ppl"]) for r in self.candidates])

    def epoch(self, record: dict, e: int) -> dict:
        return record["epochs"][e - 1]

    def metric(self, name: str, record: dict, e: int) -> float:
        if name == "valid_ppl":
            return _number(self.epoch(record, e)["valid_ppl_before_update"])
        if name == "death_rate":
            return float(record["params"]["sparse.death_rate"])
        variant = SPECTRUM_OF[name]
        a = np.array([_number(v) for v in self.epoch(record, e)["spectra"][variant]])
        b = np.array([_number(v) for v in self.epoch(self.dense, e)["spectra"][variant]])
        with np.errstate(invalid="ignore"):
            d = float(np.sqrt(((a - b) ** 2).sum()))   # L2, as hyperprune.lyapunov.distance("l2")
        return d if math.isfinite(d) else math.inf     # a broken spectrum ranks last

    def table(self, name: str) -> np.ndarray:
        """(candidates, final_epoch) values of a metric; column e-1 is epoch e."""
        return np.array([[self.metric(name, r, e) for e in range(1, self.final_epoch + 1)]
                         for r in self.candidates])

    def search_seconds(self, record: dict, e: int) -> float:
        """What a search spends on epoch e of a run: training, validation, mask update, checkpoint
        (the record's epoch time less the measurements only this benchmark makes)."""
        s = self.epoch(record, e)["seconds"]
        return s["epoch"] - s["valid_after_update"] - sum(s["spectra"].values())

    def seconds_table(self, records: list[dict]) -> np.ndarray:
        return np.array([[self.search_seconds(r, e) for e in range(1, self.final_epoch + 1)] for r in records])

    def spectrum_seconds(self, variant: str, records: list[dict]) -> np.ndarray:
        return np.array([[self.epoch(r, e)["seconds"]["spectra"][variant] for e in range(1, self.final_epoch + 1)]
                         for r in records])


def correlations_by_epoch(pool: Pool, n_boot: int = N_BOOT) -> dict:
    out = {}
    for name in METRICS:
        if name.startswith("ls_") and pool.dense is None:
            continue
        values = pool.table(name)
        out[name] = {}
        for e in range(1, pool.final_epoch):
            column = values[:, e - 1]
            keep = np.isfinite(column)
            out[name][str(e)] = correlation_with_ci(column[keep], pool.final[keep], n_boot, seed=e)
    return out


# --- the strategies, replayed ---------------------------------------------------------------------------

def replay_lsh(scores: np.ndarray, final: np.ndarray, e0: int) -> tuple[int, np.ndarray, int]:
    """(winner, epochs each candidate is trained, last scoring epoch) of `lsh` on (n, E) scores."""
    from hyperprune.search.rounds import advance

    n, final_epoch = scores.shape
    first = {c: float(scores[c, e0 - 1]) for c in range(n)}
    progress = advance(first, lambda c, e: float(scores[c, e - 1]), e0=e0, ei=ROUNDS["ei"], final=final_epoch,
                       keep=ROUNDS["keep"], finalists=ROUNDS["finalists"])
    reached = np.full(n, e0)
    for r in progress.rounds:
        reached[r.candidates] = np.maximum(reached[r.candidates], r.epoch)
    reached[progress.finalists] = final_epoch
    winner = min(progress.finalists, key=lambda c: (final[c], c))
    last_scored = max((r.epoch for r in progress.rounds), default=e0)
    return winner, reached, last_scored


def replay_asha(scores: np.ndarray, final: np.ndarray, e0: int = 1) -> tuple[int | None, np.ndarray]:
    """(winner, epochs each candidate is trained) of `asha`: trials one after the other, in row order."""
    import optuna

    from hyperprune.search.strategies.asha import ASHA

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n, final_epoch = scores.shape
    strategy = ASHA(SimpleNamespace(search=SimpleNamespace(first_epoch=e0, keep=ROUNDS["keep"], sampler="random",
                                                           metric="loss"), final_epochs=final_epoch))
    rungs = strategy.rungs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(pruner=strategy.pruner(), sampler=optuna.samplers.RandomSampler(seed=0))
        reached = np.zeros(n, dtype=int)
        completed = []
        for c in range(n):
            trial = study.ask()
            for epoch in rungs:
                trial.report(float(scores[c, epoch - 1]), epoch)
                reached[c] = epoch
                if epoch < final_epoch and trial.should_prune():
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    break
            else:
                study.tell(trial, float(scores[c, final_epoch - 1]))
                completed.append(c)
    winner = min(completed, key=lambda c: (final[c], c)) if completed else None
    return winner, reached


def _mean_ci(values: np.ndarray, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(N_BOOT, len(values)))].mean(1)
    return {"mean": float(values.mean()), "ci95": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))],
            "range95": [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]}


def replay_strategies(pool: Pool, n_subpools: int = 1000, size: int = SUBPOOL, seed: int = 0) -> dict:
    """Regret and cost of each strategy over `n_subpools` random sub-pools of `size` candidates."""
    size = min(size, len(pool.candidates))
    rng = np.random.default_rng(seed)
    final, E = pool.final, pool.final_epoch
    tables = {name: pool.table(name) for name in ("ls_reference", "ls_standard_k64", "valid_ppl")
              if not name.startswith("ls_") or pool.dense is not None}
    seconds = pool.seconds_table(pool.candidates)                       # (n, E)
    cum_seconds = np.concatenate([np.zeros((len(final), 1)), np.cumsum(seconds, 1)], 1)
    dense_cum = (np.concatenate([[0.0], np.cumsum(pool.seconds_table([pool.dense])[0])])
                 if pool.dense is not None else None)
    spectrum_s = {v: pool.spectrum_seconds(v, pool.candidates) for v in ("reference", "standard_k64")
                  if pool.dense is not None}
    dense_spectrum_s = {v: pool.spectrum_seconds(v, [pool.dense])[0] for v in spectrum_s}

    strategies = [("full", None, None), ("random", None, None), ("asha_loss", "valid_ppl", 1)]
    for e0 in E0_CHOICES:
        if e0 + 1 <= E:
            strategies += [(f"lsh_{m}_e{e0}", m, e0) for m in ("ls_reference", "ls_standard_k64", "valid_ppl")
                           if m in tables]
    out = {name: {"regret": [], "epochs": [], "seconds": []} for name, _, _ in strategies}
    for _ in range(n_subpools):
        members = rng.choice(len(final), size=size, replace=False)
        sub_final = final[members]
        best = sub_final.min()
        for name, metric, e0 in strategies:
            if name == "full":
                winner, reached, dense_epochs, spectra = int(np.argmin(sub_final)), np.full(size, E), 0, 0.0
            elif name == "random":
                winner = int(rng.integers(size))
                reached, dense_epochs, spectra = np.zeros(size, dtype=int), 0, 0.0
                reached[winner] = E
            elif name.startswith("asha"):
                winner, reached = replay_asha(tables[metric][members], sub_final, e0)
                dense_epochs, spectra = 0, 0.0
            else:
                winner, reached, last = replay_lsh(tables[metric][members], sub_final, e0)
                dense_epochs, spectra = 0, 0.0
                if metric in SPECTRUM_OF:
                    # every alive candidate is measured at every round's epoch; dense at each of those epochs
                    variant = SPECTRUM_OF[metric]
                    scored = [(c, e) for c in range(size) for e in range(e0, min(reached[c], last) + 1)]
                    spectra = sum(spectrum_s[variant][members[c], e - 1] for c, e in scored)
                    spectra += dense_spectrum_s[variant][e0 - 1:last].sum()
                    dense_epochs = last
            if winner is None:
                continue
            cost_s = cum_seconds[members, reached].sum() + spectra
            if dense_epochs:
                cost_s += dense_cum[dense_epochs]
            out[name]["regret"].append(sub_final[winner] - best)
            out[name]["epochs"].append(int(reached.sum()) + dense_epochs)
            out[name]["seconds"].append(float(cost_s))
    summary = {}
    for name, values in out.items():
        if not values["regret"]:
            continue
        summary[name] = {key: _mean_ci(np.array(v, dtype=float)) for key, v in values.items()}
        summary[name]["picked_best"] = float(np.mean(np.array(values["regret"]) == 0))
        summary[name]["subpools"] = len(values["regret"])
    return summary


# --- noise floor, figures, main -------------------------------------------------------------------------

def seed_noise(records: list[dict]) -> dict:
    """Final validation perplexity of each run trained under several seeds."""
    groups: dict[str, dict] = {}
    for r in records:
        if r["final"] is None:
            continue
        key = "dense" if r["kind"] == "dense" else f"c{r['candidate']:02d}"
        groups.setdefault(key, {})[str(r["seed"])] = _number(r["final"]["valid_ppl"])
    out = {}
    for key, by_seed in groups.items():
        if len(by_seed) > 1:
            v = np.array(list(by_seed.values()))
            out[key] = {"by_seed": by_seed, "mean": float(v.mean()), "sd": float(v.std(ddof=1)),
                        "range": float(v.max() - v.min())}
    return out


def output_prefix(records: Path) -> str:
    """pool-ptb -> pool_ptb, pool-ptb-recurrent -> pool_ptb_recurrent: each pool's files apart."""
    return records.resolve().name.replace("-", "_")


def plot(result: dict, folder: Path, prefix: str = "pool_ptb") -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, stat in zip(axes, ("spearman", "kendall")):
        for name, by_epoch in result["correlations"].items():
            epochs = [int(e) for e, c in by_epoch.items() if c[stat] is not None]
            if not epochs:
                continue
            mid = [by_epoch[str(e)][stat] for e in epochs]
            lo = [by_epoch[str(e)][f"{stat}_ci"][0] for e in epochs]
            hi = [by_epoch[str(e)][f"{stat}_ci"][1] for e in epochs]
            ax.plot(epochs, mid, marker="o", label=name)
            ax.fill_between(epochs, lo, hi, alpha=0.15)
        ax.axhline(0, color="grey", lw=0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch e")
        ax.set_title(f"{stat} vs final valid ppl (95% bootstrap CI)")
    axes[0].set_ylabel("rank correlation")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    paths.append(folder / f"{prefix}_rho_by_epoch.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    markers = {"full": "s", "random": "D", "asha": "^", "lsh_ls_reference": "o", "lsh_ls_standard_k64": "v",
               "lsh_valid_ppl": "P"}
    for ax, cost in zip(axes, ("epochs", "seconds")):
        for name, s in result["strategies"].items():
            x, y = s[cost]["mean"], s["regret"]["mean"]
            marker = next((m for family, m in markers.items() if name.startswith(family)), "o")
            ax.errorbar(x, y, yerr=[[y - s["regret"]["ci95"][0]], [s["regret"]["ci95"][1] - y]],
                        xerr=[[x - s[cost]["ci95"][0]], [s[cost]["ci95"][1] - x]], fmt=marker, capsize=3,
                        label=name)
        ax.set_xlabel(f"cost ({cost}, mean over sub-pools)")
    axes[0].set_ylabel("regret (final valid ppl above the sub-pool's best)")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"{result['subpools']} random sub-pools of {result['subpool_size']}: mean and 95% CI")
    fig.tight_layout()
    paths.append(folder / f"{prefix}_regret_vs_cost.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    if result["seed_noise"]:
        fig, ax = plt.subplots(figsize=(8, 4))
        finals = sorted(result["pool_finals"].items(), key=lambda kv: kv[1])
        ax.plot(range(len(finals)), [v for _, v in finals], "o", color="grey", label="seed 0, every candidate")
        for key, s in result["seed_noise"].items():
            x = next((i for i, (name, _) in enumerate(finals) if name == key), -1)
            ax.plot([x] * len(s["by_seed"]), list(s["by_seed"].values()), "x", ms=9,
                    label=f"{key}: seeds {', '.join(s['by_seed'])} (sd {s['sd']:.1f})")
        ax.set_xlabel("candidate, by final valid ppl (dense at -1)")
        ax.set_ylabel("final valid ppl")
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(folder / f"{prefix}_seed_noise.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def analyse(records: list[dict], n_subpools: int = 1000, n_boot: int = N_BOOT) -> dict:
    pool = Pool(records)
    result = {"runs_read": len(records), "candidates_finished": len(pool.candidates), "failed": pool.failed,
              "dense": None if pool.dense is None or pool.dense["final"] is None else pool.dense["final"],
              "final_epoch": pool.final_epoch, "subpool_size": min(SUBPOOL, len(pool.candidates)),
              "subpools": n_subpools,
              "pool_finals": {f"c{r['candidate']:02d}": _number(r["final"]["valid_ppl"]) for r in pool.candidates},
              "pool_finals_test": {f"c{r['candidate']:02d}": _number(r["final"]["test_ppl"]) for r in pool.candidates},
              "seed_noise": seed_noise(records), "correlations": {}, "strategies": {}}
    if len(pool.candidates) >= 3 and pool.final_epoch >= 2:
        result["correlations"] = correlations_by_epoch(pool, n_boot)
        result["strategies"] = replay_strategies(pool, n_subpools)
    return result


def report(result: dict) -> str:
    lines = [f"read {result['runs_read']} runs: {result['candidates_finished']} seed-0 candidates finished"
             f" ({len(result['failed'])} failed), dense {'finished' if result['dense'] else 'missing'};"
             f" final epoch {result['final_epoch']}"]
    if result["dense"]:
        lines.append(f"dense: valid {result['dense']['valid_ppl']:.2f}, test {result['dense']['test_ppl']:.2f}")
    if result["pool_finals"]:
        for split, finals in (("valid", result["pool_finals"]), ("test", result["pool_finals_test"])):
            v = sorted(finals.values())
            lines.append(f"candidates' final {split} ppl: best {v[0]:.2f}, median {np.median(v):.2f}, "
                         f"worst {v[-1]:.2f}")
    for key, s in result["seed_noise"].items():
        lines.append(f"seed noise {key}: sd {s['sd']:.2f}, range {s['range']:.2f} over seeds {', '.join(s['by_seed'])}")
    for name, by_epoch in result["correlations"].items():
        for e, c in by_epoch.items():
            lines.append(f"{name:16s} e{e}: {describe(c)}")
    for name, s in result["strategies"].items():
        lines.append(f"{name:24s} regret {s['regret']['mean']:7.2f} [{s['regret']['ci95'][0]:.2f}, "
                     f"{s['regret']['ci95'][1]:.2f}]  epochs {s['epochs']['mean']:6.1f}  seconds "
                     f"{s['seconds']['mean']:8.0f}  best picked {100 * s['picked_best']:.0f}%")
    return "\n".join(lines)


PREDICTORS = {"ls_reference": "LS distance, reference (all exponents, L2)",
              "ls_standard_k64": "LS distance, standard, k = 64",
              "valid_ppl": "validation perplexity", "death_rate": "death rate (prior)"}


def markdown(result: dict) -> str:
    """The tables of BENCHMARKS.md's pool section, from the analysis (so the text quotes the records)."""
    epochs = sorted({int(e) for by_epoch in result["correlations"].values() for e in by_epoch})
    lines = []
    for title, stat in (("Spearman rho against final validation perplexity (95% bootstrap CI), by the epoch "
                         "measured:", "spearman"), ("Kendall tau, same layout:", "kendall")):
        lines += [title, "", "| predictor | " + " | ".join(f"epoch {e}" for e in epochs) + " |",
                  "|---|" + "---|" * len(epochs)]
        for name, by_epoch in result["correlations"].items():
            cells = []
            for e in epochs:
                c = by_epoch.get(str(e))
                cells.append("n/a" if c is None or c[stat] is None else
                             f"{c[stat]:.2f} [{c[stat + '_ci'][0]:.2f}, {c[stat + '_ci'][1]:.2f}]")
            lines.append(f"| {PREDICTORS.get(name, name)} | " + " | ".join(cells) + " |")
        lines.append("")
    if result["strategies"]:
        n, size = result["subpools"], result["subpool_size"]
        lines += [f"Strategies replayed on {n} random sub-pools of {size} (mean [95% CI of the mean]; "
                      f"regret in validation perplexity):", "",
                  "| strategy | regret | 95% of sub-pools within | picked the best | epochs | seconds |",
                  "|---|---|---|---|---|---|"]
        for name, st in result["strategies"].items():
            r = st["regret"]
            lines.append(f"| {name} | {r['mean']:.2f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}] | "
                         f"[{r['range95'][0]:.2f}, {r['range95'][1]:.2f}] | {100 * st['picked_best']:.0f}% | "
                         f"{st['epochs']['mean']:.1f} | {st['seconds']['mean']:.0f} |")
    if result["seed_noise"]:
        lines += ["", "| model | final valid ppl by seed | sd | range |", "|---|---|---|---|"]
        for key, sn in result["seed_noise"].items():
            by_seed = ", ".join(f"{seed}: {v:.2f}" for seed, v in sn["by_seed"].items())
            lines.append(f"| {key} | {by_seed} | {sn['sd']:.2f} | {sn['range']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=Path, default=RECORDS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--subpools", type=int, default=1000)
    parser.add_argument("--paper", action="store_true", help="the rho check on the paper's own pool")
    parser.add_argument("--markdown", action="store_true", help="also print BENCHMARKS.md's tables")
    parser.add_argument("--extract-paper-pool", type=Path, metavar="MIRROR",
                        help=f"rebuild {PAPER_POOL.name} from a clone of the released repository")
    args = parser.parse_args(argv)
    if args.extract_paper_pool:
        table = extract_paper_pool(args.extract_paper_pool)
        PAPER_POOL.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {PAPER_POOL} ({len(table['candidates'])} candidates)")
        return 0
    if args.paper:
        table = json.loads(PAPER_POOL.read_text(encoding="utf-8"))
        for name, c in paper_check(table).items():
            print(f"paper pool, {name:15s} vs final test ppl: {describe(c)}")
        return 0
    start = time.perf_counter()
    result = analyse(load_records(args.records), args.subpools)
    prefix = output_prefix(args.records)
    result["masked"] = sorted({tuple(r["config"]["sparse"]["masked"]) for r in load_records(args.records)
                               if r["kind"] == "candidate" and "config" in r})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{prefix}_analysis.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if result["strategies"]:
        plot(result, args.out, prefix)
    print(f"masked matrices: {result['masked']}")
    print(report(result))
    if args.markdown:
        print(markdown(result))
    print(f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
