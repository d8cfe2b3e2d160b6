"""The long-training PTB pool: the paper's regime on our model (issue 18, part 2).

The first pool (`pool_ptb.py`) scores at epoch 3 of 6, half way through training; the paper scores
at epoch 3 of 100. This pool trains the same model with the same masking (a 2x200 LSTM with an
untied 128-wide embedding; embedding, recurrent and decoder matrices at sparsity 0.67; Selfish-RNN's
recipe: NT-ASGD, cosine death rate over the whole run, masks updated at the end of each "epoch")
for long enough that window 3 is early and the end is near convergence. An "epoch" here is a
*window*: the next 1/8 of PTB's training split (116,199 tokens), the unit at which validation runs,
masks update and spectra are measured.

    HYPERPRUNE_DATA=/work/shared/data OMP_NUM_THREADS=1 nohup .venv/bin/python benchmarks/pool_ptb_long.py \
        --jobs 2 --commit >> /tmp/pool_ptb_long.log 2>&1 &
    .venv/bin/python benchmarks/pool_ptb_long.py --list     # which runs exist, which are missing
    .venv/bin/python benchmarks/pool_analysis.py --pool ptb-long   # what the finished runs say

Finished runs are skipped; an unfinished run restarts from scratch (its scratch directory is
outside the repository) and its record is written atomically only at the end, so
benchmarks/results/pool-ptb-long/ only ever holds finished runs. `--commit` commits each record as
its run finishes (`git add` of that one file, `git commit`), so a session that ends loses at most
the runs in flight.

THE DESIGN, CHOSEN BY MEASUREMENT (2026-12-06, before any run of this pool)
=========================================================================
`pool_ptb.py --measure` (1 thread, 150 timed steps after 10 untimed, batch 20 x bptt 35 = 700
tokens a step, the machine idle, load average 0.8):

                          dense (3.88M weights)   sparse c00 (0.67 of the masked matrices)
    step                  0.117 s                 0.128 s
    validation pass       3.96 s                  4.07 s          (73,760 tokens)
    spectra (2 windows)   reference 0.36 s, standard k=64 0.08 s
    mask update           -                       0.12 s

Two jobs on the two cores contend for memory bandwidth, and this session's own tests share the
machine, so the plan adds 25%: 0.16 s a sparse step, 5 s a validation pass, 0.25 s of spectra a
probe window.

Targets (issue 18): e0 = 3 windows at most 10% of the budget T; the dense model at <= 130 valid
ppl, improving < 2% over the last quarter of T; the pool within 86,400 job-seconds (12 h on 2 jobs).

    window      PTB train / 8 = 116,199 tokens = 166 steps          -> 166 x 0.16 = 26.6 s
    T           48 windows = 6 passes over PTB (5.58M tokens); e0 = 3 is 6.25% of T
    validation  every window (NT-ASGD's trigger and the best state need it): 48 x 5 s = 240 s
    records     windows 1-10, then every 4th (12, 16, ..., 48): 20 records, each a second validation
                pass after the update (5 s) and 7 probe windows x 2 spectra (~2 s)  =  140 s
    one run     48 x 26.6 + 240 + 140 + 48 x 0.3 (update, checkpoint) + 4 final passes x 5 = 1,690 s
    the pool    35 runs x 1,690 = 59,150 job-s = 8.2 h on 2 jobs  (< 12 h; 46% headroom for load)

Learning rate. Our Zaremba-small run (BENCHMARKS.md, "Dense PTB") reached valid 135.3 after 3 passes
at lr 20 and gained ~10 ppl in its first decayed pass, then < 1% a pass. So lr 20 is held for 24
windows (3 passes) and then multiplied by 0.7 each window (`decay_after` 24, `lr_decay` 0.7): lr is
2.4 at window 30 and 0.28 at window 36, so the annealing is over before the last quarter (windows
37-48) begins, and the dense model should end near 125 (our 128-wide untied embedding trained ~5
ppl worse than Zaremba's at the same point in the first pool). NT-ASGD stays on, as the paper's
recipe: if validation stalls for 5 windows the averaging takes over and the decay stops.
Convergence is checked on dense-s0 when it finishes (it runs first) and written under CALIBRATION.

Why 1/8-pass windows and not 1/16 (T = 96, e0 = 3 at 3% as in the paper): the 96 validation passes
and 32 records would cost ~2,000 s a run, 70,000 job-s, 19% headroom; too little on a shared
machine. The paper's state at e0 = 3 (dense ~2.3x its final) is reached here at a window w*, which
the analysis reads off the dense runs; both e0 = 3 and w* are analysed.

THE RUNS, FIXED BEFORE ANY RESULT OF THIS POOL
==============================================
Candidates are drawn in the first pool's seeded order (`pool_ptb.draw_candidates`, seed 0), so the
two pools share settings and compare run for run. Runs that would be bit-identical count once:
threshold death ignores the death rate until its global tau settles (tau starts at 1e-3 and doubles
at every update for every rate), so in the first pool c00 = c04 and c01 = c09 = c29 trained bit for
bit alike. A threshold candidate whose (init, redistribution) was already drawn is skipped and the
next setting drawn instead: 24 distinct candidates, c00-c03, c05-c08, c10-c25 (names keep the first
pool's numbers).

Noise: the dense model under seeds 0, 1, 2, and four candidates under seeds 0, 1, 2 (the seed changes
the weights, the masks and every regrowth draw: `Trainer` seeds torch from it, the sparse engine its
own generator):
    c07  the first pool's best (ER, magnitude, nonzeros, 0.9; valid 215.42)
    c21  its median: the 16th of 32 by final valid ppl, the lower median (ER, magnitude, magnitude,
         0.5; 229.37; the 17th, c12 at 230.32, is equally far from the median 229.85 and is a
         threshold candidate, a kind the fourth one covers)
    c02  a SET-signed candidate: the first drawn (uniform, SET-signed, nonzeros, 0.9)
    c00  a threshold candidate: the first drawn (uniform, threshold, nonzeros, 0.9), also the first
         pool's noise candidate, so its seed sd compares across the pools
Order: the 3 dense runs, the 4 seeded candidates at seed 0, their seeds 1 and 2, then the rest of
the pool in draw order: the noise floor exists early.

CALIBRATION (2026-12-06: dense-s0 and dense-s1, the first two runs, read before any candidate finished)
    dense-s0  valid 738 (w1), 381 (w3), 270 (w5), 189 (w10), 154 (w16), 136 (w24), 116.0 (w36);
              best-validation state w39: valid 115.80, test 112.11; last (w48) 115.84 / 112.12
    dense-s1  best-validation state w38: valid 114.16, test 110.40; last 114.25 / 110.52
    Targets: <= 130 valid ppl (met: 114-116); improvement over the last quarter 0.15-0.16% (< 2%: met);
    w* (first window with valid <= 2.5x the final) = 5, 10% of T; e0 = 3 is 6.25%. NT-ASGD switched
    to averaging at window 42, on the plateau after the decay, as its trigger should.
    Cost: 3,535-3,611 s a run, not the planned 1,690: four engineers' test suites shared the two
    cores all session (load average 4-7; windows took 40-130 s instead of 22-27 s idle). At the
    planned cost the pool takes 8.2 h on two jobs; at this session's, 17.5 h.

DECISION ON THE RECIPE (2026-12-06, after c07-s0, c21-s0 and c02-s0, before any further run was read)
    c07-s0 (`nonzeros` redistribution, rate 0.9) emptied its embedding and layer 0 within 8 updates and
    collapsed; the first pool's 6 updates had made it the best. The recipe is KEPT unchanged, because:
    - The collapse is the released rule's own feedback: `nonzeros` counts kept weights with |w| > 1e-3
      (sparse_rnn_core.py:408-409, matched in sparse/redistribution/nonzeros.py), and a weight regrown
      at zero that gets little gradient before the next update counts as empty, so its tensor's share
      of regrowth falls at every update. Windows make it faster, not possible: 28% of PTB's 10,000
      words do not occur in window 1 (7,168 seen; 7,347 and 7,408 in windows 2 and 3), so weights
      regrown in those embedding rows stay exactly 0 until the next update. Removing the feedback
      would mean leaving the paper's rule, which this pool exists to test.
    - Per fraction of training the churn is the paper's order: an update every 1/48 of training here,
      every 1/100 in the paper's 100 epochs; the cosine death rate spans the whole run in both. Per
      token it is 8x the paper's, but the question is about the state at a fraction of training.
    - Updating masks once a pass (every 8 windows) would put the first update after w* = 5: an early
      score could then not see the death, growth or redistribution rule at all.
    - NT-ASGD freezing lr when a candidate stalls is the released recipe (averaging is its annealing);
      decaying lr under averaging would be our own deviation, and would discard the three sparse runs.
    So collapsing candidates are members of the pool, as they would be of a real search in this space.
    Added before further runs were read, and marked post hoc wherever reported: the analysis is also
    shown without the `nonzeros` candidates, as a sensitivity check, never as the primary result.

RECORDS, PER RUN
================
Every window: lr, whether ASGD averages, training perplexity, validation perplexity before the
update (the trainer's own pass), seconds. At the recorded windows also: validation perplexity after
the update, per-tensor densities, and the spectra of the pre-update state as validation sees it
(ASGD averages once averaging): `reference` (all 400 exponents) and `standard` k = 64, each probe
window separately, for the search's 2-window probe (`probe2`) and its 5-window later-round probe
(`probe5`). `make_probe(mode="first")` spreads n windows over the split, so the 2-window probe is
not the first 2 of the 5; both are kept, and the search's score is the mean over a probe's rows.
At the end: the last window's valid and test ppl (no update follows the last window), and the
best-validation window's, evaluated on that saved state (what the paper reports).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pool_ptb import draw_candidates, epoch_window, finished, run_config  # noqa: E402

from hyperprune.config import to_dict  # noqa: E402
from hyperprune.data import batchify, load_corpus  # noqa: E402
from hyperprune.files import atomic_write_text  # noqa: E402
from hyperprune.lyapunov import make_probe, model_spectrum  # noqa: E402
from hyperprune.perplexity import perplexity  # noqa: E402
from hyperprune.train import Trainer  # noqa: E402
from hyperprune.train.trainer import TrainingDiverged, evaluate_loss  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "pool-ptb-long"
WORK = Path("/tmp/hyperprune-pool-ptb-long")
RECORD_FORMAT = 1

LONG = {
    "data": {"name": "ptb"},
    "epoch_tokens": 116_199,                     # PTB train (929,589 tokens) / 8
    "model": {"preset": "lstm-small", "emb_size": 128, "hidden_size": 200, "tie_weights": False},
    "train": {"epochs": 48, "batch_size": 20, "eval_batch_size": 20, "bptt": 35, "optimizer": "nt-asgd",
              "lr": 20.0, "clip": 0.25, "decay_after": 24, "lr_decay": 0.7, "nonmono": 5},
    "sparse": {"preset": "selfish-rnn", "sparsity": 0.67, "masked": ["embedding", "recurrent", "decoder"]},
    "pool_size": 24,
    "noise_candidates": [7, 21, 2, 0],
    "noise_seeds": [1, 2],
    "recorded": list(range(1, 11)) + list(range(12, 49, 4)),
}
TINY = {
    "data": {"name": "ptb", "train_tokens": 900, "valid_tokens": 300, "test_tokens": 200},
    "epoch_tokens": 300,
    "model": {"preset": "lstm-small", "emb_size": 12, "hidden_size": 16, "tie_weights": False},
    "train": {"epochs": 4, "batch_size": 4, "eval_batch_size": 2, "bptt": 10, "optimizer": "nt-asgd",
              "lr": 20.0, "clip": 0.25, "decay_after": 2, "lr_decay": 0.7, "nonmono": 5},
    "sparse": {"preset": "selfish-rnn", "sparsity": 0.67, "masked": ["embedding", "recurrent", "decoder"]},
    "pool_size": 2,
    "noise_candidates": [0],
    "noise_seeds": [1],
    "recorded": [1, 2, 4],
}
PROBES = {"probe2": {"n_sequences": 2}, "probe5": {"n_sequences": 5}}
PROBE = {"length": 35, "warmup": 10, "seed": 0, "mode": "first"}     # the paper's probe
SPECTRA = {"reference": {"convention": "reference", "k": None},
           "standard_k64": {"convention": "standard", "k": 64}}
TINY_SPECTRA = {"reference": {"convention": "reference", "k": None},
                "standard_k64": {"convention": "standard", "k": 8}}


def distinct_key(params: dict) -> tuple:
    """Settings that train bit for bit alike share a key: threshold death ignores the death rate
    until tau settles (see the module docstring), so its key leaves the rate out."""
    rate = None if params["sparse.death"] == "threshold" else params["sparse.death_rate"]
    return (params["sparse.init"], params["sparse.death"], params["sparse.growth"],
            params["sparse.redistribution"], rate)


def pool_candidates(size: int) -> list[tuple[int, dict]]:
    """The first `size` settings of the first pool's seeded order whose runs differ: (number, params)."""
    chosen, seen = [], set()
    for number, params in enumerate(draw_candidates(10 * size + 32)):
        key = distinct_key(params)
        if key not in seen:
            seen.add(key)
            chosen.append((number, params))
        if len(chosen) == size:
            return chosen
    raise AssertionError("the space has fewer distinct settings than the pool needs")


def plan_runs(setup: dict) -> list[dict]:
    """Dense runs, the seeded candidates at seed 0, their other seeds, then the rest of the pool."""
    candidates = dict(pool_candidates(setup["pool_size"]))
    noise = setup["noise_candidates"]
    assert set(noise) <= set(candidates), "a noise candidate must be a member of the pool"

    def run(number: int | None, seed: int) -> dict:
        if number is None:
            return {"name": f"dense-s{seed}", "kind": "dense", "candidate": None, "params": None, "seed": seed}
        return {"name": f"c{number:02d}-s{seed}", "kind": "candidate", "candidate": number,
                "params": candidates[number], "seed": seed}

    runs = [run(None, 0)] + [run(None, s) for s in setup["noise_seeds"]]
    runs += [run(n, 0) for n in noise]
    runs += [run(n, s) for s in setup["noise_seeds"] for n in noise]
    runs += [run(n, 0) for n in candidates if n not in noise]
    return runs


# --- one run ----------------------------------------------------------------------------------------

def _finite(x: float) -> float | str:
    return round(x, 7) if math.isfinite(x) else str(x)


def _rows(exponents: torch.Tensor) -> list[list[float | str]]:
    return [[_finite(v) for v in row] for row in exponents.tolist()]


def measure_spectra(trainer: Trainer, probes: dict, spectra: dict) -> tuple[dict, float]:
    """{variant: {probe: per-window exponent rows}} of the model as validation sees it, and seconds."""
    start = time.perf_counter()
    out: dict = {}
    with trainer.evaluation_weights():
        for variant, args in spectra.items():
            out[variant] = {}
            for name, probe in probes.items():
                spectrum = model_spectrum(trainer.model, probe, convention=args["convention"], k=args["k"],
                                          warmup=PROBE["warmup"], seed=PROBE["seed"])
                out[variant][name] = _rows(spectrum.exponents)
    return out, time.perf_counter() - start


def densities(trainer: Trainer) -> dict[str, float] | None:
    if trainer.sparse is None:
        return None
    return {name: round(float(mask.float().mean()), 7) for name, mask in trainer.sparse.masks.items()}


def train_run(run: dict, setup: dict, work: Path, out: Path, corpus=None) -> dict:
    """Train `run` from scratch to T windows and write its record to OUT/<name>.json."""
    started = time.time()
    load_start = os.getloadavg()
    run_dir = work / run["name"]
    shutil.rmtree(run_dir, ignore_errors=True)           # an unfinished run restarts from scratch
    cfg = run_config(setup, run["params"], run["seed"])
    corpus = corpus if corpus is not None else load_corpus(cfg.data)
    probes = {name: make_probe(corpus.valid, n_sequences=p["n_sequences"], length=PROBE["length"],
                               seed=PROBE["seed"], warmup=PROBE["warmup"], mode=PROBE["mode"])
              for name, p in PROBES.items()}
    spectra_args = setup.get("spectra", SPECTRA)
    recorded = set(setup["recorded"])
    windows: list[dict] = []
    pending: dict = {}
    best: dict = {"loss": math.inf}
    size = setup["epoch_tokens"]

    def before_update(t: Trainer, window: int) -> None:
        pending.clear()
        if t.val_losses[-1] < best["loss"]:
            # The best-validation state as validation saw it (ASGD averages once averaging), kept in
            # memory (16 MB) and evaluated on test at the end: the paper's reported model.
            with t.evaluation_weights():
                best.update(loss=t.val_losses[-1], window=window,
                            state={k: v.detach().clone() for k, v in t.model.state_dict().items()})
        if window in recorded:
            pending["spectra"], pending["spectra_s"] = measure_spectra(t, probes, spectra_args)
            pending["densities"] = densities(t)

    def on_window(t: Trainer, record) -> None:
        entry = {"window": record.epoch, "lr": record.lr, "averaged": record.averaged,
                 "train_ppl": _finite(math.exp(min(record.train_loss, 700.0))),
                 "valid_ppl_before_update": _finite(record.valid_ppl),
                 "seconds": {"train": record.wall_s, "mask_update": record.mask_update_s}}
        if record.epoch in recorded:
            start = time.perf_counter()
            sparse = t.sparse is not None and record.epoch < t.cfg.train.epochs  # no update after the last
            entry["valid_ppl_after_update"] = _finite(t.evaluate("valid")) if sparse else entry[
                "valid_ppl_before_update"]
            entry["seconds"]["valid_after_update"] = time.perf_counter() - start
            entry["seconds"]["spectra"] = pending["spectra_s"]
            entry["densities"] = pending["densities"]
            entry["spectra"] = pending["spectra"]
        entry["seconds"]["window"] = time.perf_counter() - window_start[0]
        windows.append(entry)
        next_window(t)
        window_start[0] = time.perf_counter()

    trainer = Trainer(cfg, run_dir, corpus=corpus, verbose=False, progress=False)
    resolved = to_dict(trainer.cfg)

    def next_window(t: Trainer) -> None:
        # The Trainer batchifies its whole training split once; each window replaces it.
        t.train_data = batchify(epoch_window(corpus.train, t.epoch + 1, size), cfg.train.batch_size)

    window_start = [time.perf_counter()]
    next_window(trainer)
    failure, last, best_final = None, None, None
    try:
        trainer.train(on_epoch=on_window, before_mask_update=before_update)
        last = {"valid_ppl": _finite(trainer.evaluate("valid")), "test_ppl": _finite(trainer.evaluate("test")),
                "window": trainer.epoch}
        trainer.model.load_state_dict(best["state"])
        bptt = cfg.train.bptt
        best_final = {"window": best["window"],
                      "valid_ppl": _finite(perplexity(evaluate_loss(trainer.model, trainer.valid_data, bptt))),
                      "test_ppl": _finite(perplexity(evaluate_loss(trainer.model, trainer.test_data, bptt)))}
    except TrainingDiverged as exc:
        failure = str(exc)
    total, nonzero = trainer.parameter_counts()
    record = {
        "format": RECORD_FORMAT,
        "pool": "ptb-long",
        **{key: run[key] for key in ("name", "kind", "candidate", "params", "seed")},
        "config": resolved,
        "window_tokens": size,
        "windows_total": cfg.train.epochs,
        "recorded_windows": sorted(recorded),
        "probe": {name: {**PROBE, **p} for name, p in PROBES.items()},
        "spectra": {variant: dict(args) for variant, args in spectra_args.items()},
        "masked_shapes": {name: list(p.shape) for name, p in trainer.sparse.params.items()}
        if trainer.sparse is not None else None,
        "params_total": total, "params_nonzero": nonzero,
        "windows": windows,
        "final": {"last": last, "best_valid": best_final},
        "failure": failure,
        "seconds": {"wall": time.time() - started,
                    "train": sum(w["seconds"]["train"] for w in windows),
                    "spectra": sum(w["seconds"].get("spectra", 0.0) for w in windows)},
        "host": {"threads": torch.get_num_threads(), "load_average_start": list(load_start),
                 "load_average_end": list(os.getloadavg()), "torch": torch.__version__,
                 "python": platform.python_version(), "machine": platform.machine()},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"{run['name']}.json", json.dumps(record, separators=(",", ":")) + "\n")
    shutil.rmtree(run_dir, ignore_errors=True)
    return record


def _worker(run: dict, setup: dict, work: str, out: str) -> tuple[str, object, float]:
    torch.set_num_threads(1)
    start = time.time()
    record = train_run(run, setup, Path(work), Path(out))
    final = record["final"]["best_valid"] or record["failure"]
    return run["name"], final, time.time() - start


def commit_record(out: Path, name: str, log=print) -> None:
    """Commit one finished record (only that file), retrying while another git command holds the lock."""
    path = out / f"{name}.json"
    for attempt in range(20):
        add = subprocess.run(["git", "-C", str(REPO), "add", str(path)], capture_output=True, text=True)
        done = add.returncode == 0 and subprocess.run(
            ["git", "-C", str(REPO), "commit", "-q", "-m", f"PTB long pool: run {name} finished", "--",
             str(path)], capture_output=True, text=True).returncode == 0
        if done:
            return
        time.sleep(3 + attempt)       # another git process holds .git/index.lock; not a test
    log(f"could not commit {path}; it is on disk and the next --commit run will not redo it")


def run_pool(setup: dict, out: Path, work: Path, jobs: int, max_runs: int | None, commit: bool,
             log=print) -> list[str]:
    runs = [r for r in plan_runs(setup) if r["name"] not in finished(out)]
    if max_runs is not None:
        runs = runs[:max_runs]
    log(f"{len(finished(out))} finished, training {len(runs)}: {' '.join(r['name'] for r in runs)}")
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_worker, run, setup, str(work), str(out)) for run in runs]
        for future in concurrent.futures.as_completed(futures):
            name, final, wall = future.result()
            log(f"{name}: {final} ({wall:.0f} s)")
            if commit:
                commit_record(out, name, log)
    return [r["name"] for r in runs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once, one thread each")
    parser.add_argument("--max-runs", type=int, help="train at most this many missing runs, then stop")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the per-run records go")
    parser.add_argument("--work", type=Path, default=WORK, help="scratch run directories (outside the repo)")
    parser.add_argument("--commit", action="store_true", help="git-commit each record as its run finishes")
    parser.add_argument("--tiny", action="store_true", help="the same pipeline in seconds (tests)")
    parser.add_argument("--list", action="store_true", help="list the runs and which are finished")
    args = parser.parse_args(argv)
    setup = dict(TINY, spectra=TINY_SPECTRA) if args.tiny else LONG
    if args.list:
        done = finished(args.out)
        for number, run in enumerate(plan_runs(setup)):
            print(f"{number:3d} {run['name']:10s} {'done' if run['name'] in done else 'missing':8s} "
                  f"{json.dumps(run['params']) if run['params'] else ''}")
        return 0
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    run_pool(setup, args.out, args.work, args.jobs, args.max_runs, args.commit,
             log=lambda line: print(time.strftime("%H:%M:%S"), line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
