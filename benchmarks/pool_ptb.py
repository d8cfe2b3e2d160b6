"""A pool of fully trained sparse candidates on real PTB, one JSON record per run (issue 11).

Every candidate of a seeded draw from the LSH paper's space (hyperprune.search.space.paper_space:
init {uniform, ER} x death {magnitude, SET-signed, threshold, global_magnitude} x growth random x
redistribution {magnitude, nonzeros, none} x death rate 0.4..0.9) and the dense model are trained
to the same full budget with the same recipe, so the truth (each run's final perplexity) is known
and `benchmarks/pool_analysis.py` can replay any search strategy on it offline. The dense model
and the first two candidates are also trained under seeds 1 and 2: the noise floor.

Per run and per epoch the record holds the validation perplexity before and after the end-of-epoch
mask update, the `reference` spectrum (all exponents) and the `standard` spectrum (k = 64), both
measured before the update (the state the paper's code saves and measures; Trainer's
`before_mask_update` hook), with the ASGD averages once NT-ASGD averages, as validation sees them;
and the seconds spent training, validating, updating the masks and measuring.

    HYPERPRUNE_DATA=/work/shared/data OMP_NUM_THREADS=1 nohup .venv/bin/python benchmarks/pool_ptb.py \
        --jobs 2 >> /tmp/pool_ptb.log 2>&1 &
    .venv/bin/python benchmarks/pool_analysis.py              # any time: what the finished runs say
    .venv/bin/python benchmarks/pool_ptb.py --list            # which runs exist, which are missing
    .venv/bin/python benchmarks/pool_ptb.py --measure         # time 150 dense / sparse steps again
    ... --recurrent-only      # the second pool (recurrent matrices alone), results/pool-ptb-recurrent/

Finished runs are skipped; a run whose record is missing starts from scratch in its scratch
directory (WORK/<name>, outside the repository) and its record is written atomically only at the
end, so benchmarks/results/pool-ptb/ only ever holds finished runs and can be committed as is.
A run that diverges is recorded too (`failure`), so that it is not retried forever.

THE SIZE AND BUDGET
===================
Measured with `--measure` (1 thread, 150 timed steps after 10 untimed, batch 20 x bptt 35 = 700
tokens a step, on 2026-12-03 with 4 other engineers' tests on the 2 cores, load average 4-7):

                          dense (3.88M weights)   sparse c00 (0.67 of the masked matrices)
    step, CPU time        0.231 s                 0.205 s
    step, wall            0.214 / 0.571 s         0.370 / 0.758 s    (two measurements, load 4-5 / 6.6)
    validation, CPU       6.2 s                   6.6 s              (73,760 tokens, eval batch 10)
    spectra, wall         reference 1.0-1.4 s, standard k=64 0.35-0.45 s
    mask update           -                       0.30 s

The wall clock measures the other jobs, not ours (it swung 2.7x between two runs), so the plan is
made on CPU time plus 25% (two jobs on two cores contend for memory bandwidth; light other load):
0.29 s a step, 8 s a validation pass, 2 s of spectra, 1 s of mask update and checkpoint.

Budget: 5 h x 2 jobs = 36,000 job-seconds for 3 dense + 36 sparse runs, 923 s a run on average.
Validation twice per sparse epoch (before and after the update) plus spectra: ~19 s an epoch, so the
epochs themselves must be short. The rounds need e0 + 3 < final for e0 = 3 (16 -> 9 -> 5 -> 3 -> 2
at e0 .. e0 + 3), so 6 epochs; then 270,000 training tokens an epoch (386 steps), each epoch the
next window of the split (`epoch_window`):

    sparse epoch  386 x 0.29 + 2 x 8 + 2 + 1   = 131 s;  run: 6 x 131 + 16 (final valid + test)
                                                  + 5 (start)                       =   807 s
    dense epoch   386 x 0.29 + 8 + 2 + 0.5     = 122 s;  run: 6 x 122 + 21          =   756 s
    pool          36 x 807 + 3 x 756 = 31,320 job-s = 4.35 h on 2 jobs, + <= 0.12 h for the
                  odd last run alone  = 4.5 h < 5 h

Each run sees 6 x 270k = 1.6M tokens (1.75 passes over PTB). Zaremba's schedule reaches 182 / 147
valid ppl after 1 / 2 full PTB epochs of the 2x200 model (BENCHMARKS.md); here lr halves after
epochs 4 and 5 (20, 20, 20, 20, 10, 5). CALIBRATION below holds what dense and the first candidate measured.

These hold only when the pool's two jobs get their two cores: at the load average seen while
measuring (4-10 from other engineers' test suites), the same epochs took 2-3.5x longer. Launch it
when the machine is otherwise quiet, or in sittings (`--max-runs`; finished runs are kept).

CALIBRATION (2026-12-03, this setup, before the pool; valid ppl after each epoch):

    dense-s0, 270k windows   448, 309, 268, 202, 170, 155.3  final valid 155.27, test 151.14  (<= 160)
    dense-s0, one fixed 270k slice repeated (the first try)
                             448, 301, 251, 231, 214, 206.2  train ppl 176 < valid 231 at epoch 4:
                             it overfits the slice, hence the windows
    c00-s0 (threshold, nonzeros, 0.9), windows
                             747, 644, 405, 315, 269, 236.7  final valid 236.70, test 228.41
    c02-s0 (SET-signed, nonzeros, 0.9), windows
                             747, 734, 658, 543, 451, 431.8  final valid 431.84, test 417.09
    (c00-s0 on the fixed slice: 747, 714, 413, 320, 282, 263.5)

So with embedding, recurrent and decoder matrices masked at 0.67 the candidates leave the unigram
plateau (~750) within the budget, and they spread widely; the recurrent-only pool is not needed.
Times: c00-s0 and c02-s0 ran together (`--jobs 2`, load average 1-3): 658 s and 730 s a run,
73-144 s of training an epoch (0.19-0.37 s a step), 6-13 s a validation pass; the plan's 807 s is
conservative there. The pool at those times: 36 x 730 + 3 x 600 = 28,100 job-s = 3.9 h on 2 jobs.
This calibration run of dense-s0, alone, took 1,424 s with the load average at 8 (680 s for its
first epoch, 88 s for its last once the machine was quiet); the pool's committed dense-s0 record,
trained again later, took 631 s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import math
import multiprocessing
import os
import platform
import random
import shutil
import sys
import time
from pathlib import Path

import torch

from hyperprune.config import from_dict, to_dict
from hyperprune.data import batchify, load_corpus
from hyperprune.data.config import DataConfig
from hyperprune.files import atomic_write_text
from hyperprune.lyapunov import make_probe, model_spectrum
from hyperprune.search.space import paper_space
from hyperprune.train import RunConfig, Trainer
from hyperprune.train.trainer import TrainingDiverged

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "pool-ptb"
WORK = Path("/tmp/hyperprune-pool-ptb")
RECORD_FORMAT = 1

# --- the experiment -------------------------------------------------------------------------------

# Untied embedding (128) and decoder (from 200 hidden units): the masked matrices have four shapes
# (10000x128, 800x128, 800x200, 10000x200), so ER's per-tensor densities differ from uniform's.
FULL = {
    "data": {"name": "ptb"},                                    # whole splits
    "epoch_tokens": 270_000,     # an epoch is the next window of this many training tokens (wrapping)
    "model": {"preset": "lstm-small", "emb_size": 128, "hidden_size": 200, "tie_weights": False},
    # The Selfish-RNN recipe (NT-ASGD; the preset's cosine death rate, here over the 6 epochs) at
    # Zaremba-small's per-token step (lr 20, clip 0.25; BENCHMARKS.md), halved after epochs 4 and 5
    # as Zaremba's schedule halves after each epoch past the 4th: lr 40 is the paper's for 1500 units with dropout 0.65 and 100 epochs,
    # and in 6 epochs NT-ASGD's trigger (5 epochs without improvement) cannot fire.
    "train": {"epochs": 6, "batch_size": 20, "eval_batch_size": 20, "bptt": 35, "optimizer": "nt-asgd",
              "lr": 20.0, "clip": 0.25, "decay_after": 4, "lr_decay": 0.5, "nonmono": 5},
    "sparse": {"preset": "selfish-rnn", "sparsity": 0.67, "masked": ["embedding", "recurrent", "decoder"]},
    "pool_size": 32,
    "noise_seeds": [1, 2],
    "noise_candidates": 2,
}
# `--recurrent-only`: the second pool the issue allows only if sparse candidates cannot leave the
# unigram plateau with embedding and decoder masked too. Its records go to their own folder.
RECURRENT_ONLY = {**FULL, "sparse": {**FULL["sparse"], "masked": ["recurrent"]}}
RECURRENT_RESULTS = REPO / "benchmarks" / "results" / "pool-ptb-recurrent"
# `--tiny`: the same pipeline in seconds (tests): three runs on a few hundred tokens.
TINY = {
    "data": {"name": "ptb", "train_tokens": 900, "valid_tokens": 200, "test_tokens": 200},
    "epoch_tokens": 400,
    "model": {"preset": "lstm-small", "emb_size": 12, "hidden_size": 16, "tie_weights": False},
    "train": {"epochs": 2, "batch_size": 4, "eval_batch_size": 2, "bptt": 10, "optimizer": "nt-asgd",
              "lr": 20.0, "clip": 0.25, "decay_after": None, "nonmono": 5},
    "sparse": {"preset": "selfish-rnn", "sparsity": 0.67, "masked": ["embedding", "recurrent", "decoder"]},
    "pool_size": 2,
    "noise_seeds": [],
    "noise_candidates": 0,
}
POOL_SEED = 0
PROBE = {"n_sequences": 2, "length": 35, "warmup": 10, "seed": 0, "mode": "first"}   # the paper's probe
SPECTRA = {"reference": {"convention": "reference", "k": None},       # variant -> model_spectrum args
           "standard_k64": {"convention": "standard", "k": 64}}


def space_grid() -> list[dict]:
    """Every setting of the paper's space, {dotted key: value}, in a fixed order."""
    axes = {}
    for key, spec in paper_space().items():
        if spec["type"] == "categorical":
            axes[key] = list(spec["choices"])
        else:
            n = int(round((spec["high"] - spec["low"]) / spec["step"]))
            axes[key] = [round(spec["low"] + i * spec["step"], 10) for i in range(n + 1)]
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def draw_candidates(size: int, seed: int = POOL_SEED) -> list[dict]:
    """`size` distinct settings in a seeded order (a larger pool extends a smaller one)."""
    grid = space_grid()
    random.Random(seed).shuffle(grid)
    return grid[:size]


def plan_runs(setup: dict) -> list[dict]:
    """Every run of the pool: dense and candidates under seed 0, then the noise-floor seeds."""
    candidates = draw_candidates(setup["pool_size"])
    runs = [{"name": "dense-s0", "kind": "dense", "candidate": None, "params": None, "seed": 0}]
    runs += [{"name": f"c{i:02d}-s0", "kind": "candidate", "candidate": i, "params": p, "seed": 0}
             for i, p in enumerate(candidates)]
    for seed in setup["noise_seeds"]:
        runs.append({"name": f"dense-s{seed}", "kind": "dense", "candidate": None, "params": None,
                     "seed": seed})
        runs += [{"name": f"c{i:02d}-s{seed}", "kind": "candidate", "candidate": i, "params": candidates[i],
                  "seed": seed} for i in range(setup["noise_candidates"])]
    return runs


def epoch_window(train_ids: torch.Tensor, epoch: int, size: int) -> torch.Tensor:
    """The training tokens of 1-based `epoch`: the `epoch`-th window of `size` consecutive tokens of
    the split, wrapping around at its end.

    Why windows: a run can afford ~1.75 passes over PTB's 930k training tokens, and the rounds need
    6 epochs (validation, spectra and a mask update after each). Six passes over a fixed 270k slice
    would overfit it; six consecutive windows see the whole split, and each epoch fresh text."""
    start = ((epoch - 1) * size) % len(train_ids)
    return torch.roll(train_ids, -start)[:size]


def run_config(setup: dict, params: dict | None, seed: int) -> RunConfig:
    sparse = {"sparsity": 0.0}
    if params is not None:
        sparse = dict(setup["sparse"])
        for key, value in params.items():
            section, _, name = key.partition(".")
            assert section == "sparse", key        # the paper's space varies the sparse section only
            sparse[name] = value
    raw = {"data": setup["data"], "model": setup["model"], "train": setup["train"], "sparse": sparse,
           "seed": seed, "device": "cpu"}
    return from_dict(RunConfig, raw)


# --- one run ----------------------------------------------------------------------------------------

def _finite(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def measure_spectra(trainer: Trainer, probe) -> tuple[dict, dict]:
    """{variant: exponents} and {variant: seconds} of the model as validation sees it."""
    spectra, seconds = {}, {}
    with trainer.evaluation_weights():
        for variant, args in SPECTRA.items():
            start = time.perf_counter()
            spectrum = model_spectrum(trainer.model, probe, convention=args["convention"], k=args["k"],
                                      warmup=PROBE["warmup"], seed=PROBE["seed"])
            seconds[variant] = time.perf_counter() - start
            spectra[variant] = [_finite(v) for v in spectrum.mean.tolist()]
    return spectra, seconds


def train_run(run: dict, setup: dict, work: Path, out: Path, corpus=None) -> dict:
    """Train `run` from scratch to the full budget and write its record to OUT/<name>.json."""
    started = time.time()
    load_start = os.getloadavg()
    run_dir = work / run["name"]
    shutil.rmtree(run_dir, ignore_errors=True)           # an unfinished run restarts from scratch
    cfg = run_config(setup, run["params"], run["seed"])
    corpus = corpus if corpus is not None else load_corpus(cfg.data)
    probe = make_probe(corpus.valid, n_sequences=PROBE["n_sequences"], length=PROBE["length"],
                       seed=PROBE["seed"], warmup=PROBE["warmup"], mode=PROBE["mode"])
    epochs: list[dict] = []
    pending: dict = {}

    def before_update(t: Trainer, epoch: int) -> None:
        pending.clear()
        pending["spectra"], pending["spectrum_s"] = measure_spectra(t, probe)

    def on_epoch(t: Trainer, record) -> None:
        sparse = t.sparse is not None
        start = time.perf_counter()
        after = t.evaluate("valid") if sparse else record.valid_ppl   # dense: no update to measure
        valid_after_s = time.perf_counter() - start
        epochs.append({
            "epoch": record.epoch, "lr": record.lr, "averaged": record.averaged,
            "train_ppl": _finite(math.exp(min(record.train_loss, 700.0))),
            "valid_ppl_before_update": _finite(record.valid_ppl),
            "valid_ppl_after_update": _finite(after),
            "spectra": pending["spectra"],
            "seconds": {"train": record.wall_s, "mask_update": record.mask_update_s,
                        "valid_after_update": valid_after_s, "spectra": pending["spectrum_s"],
                        "epoch": time.perf_counter() - epoch_start[0]},
        })
        next_window(t)
        epoch_start[0] = time.perf_counter()

    failure = None
    final = None
    epoch_start = [time.perf_counter()]
    trainer = Trainer(cfg, run_dir, corpus=corpus, verbose=False, progress=False)
    resolved = to_dict(trainer.cfg)
    size = setup["epoch_tokens"]

    def next_window(t: Trainer) -> None:
        # The Trainer batchifies its whole training split once; each epoch gets its own window instead.
        t.train_data = batchify(epoch_window(corpus.train, t.epoch + 1, size), cfg.train.batch_size)

    next_window(trainer)
    try:
        trainer.train(on_epoch=on_epoch, before_mask_update=before_update)
        final = {"valid_ppl": _finite(trainer.evaluate("valid")), "test_ppl": _finite(trainer.evaluate("test")),
                 "epochs": trainer.epoch}
    except TrainingDiverged as exc:
        failure = str(exc)
    total, nonzero = trainer.parameter_counts()
    record = {
        "format": RECORD_FORMAT,
        **{key: run[key] for key in ("name", "kind", "candidate", "params", "seed")},
        "config": resolved,
        "epoch_tokens": size,
        "probe": dict(PROBE),
        "spectra": {variant: dict(args) for variant, args in SPECTRA.items()},
        "masked_shapes": {name: list(p.shape) for name, p in trainer.sparse.params.items()}
        if trainer.sparse is not None else None,
        "params_total": total, "params_nonzero": nonzero,
        "epochs": epochs,
        "final": final,
        "failure": failure,
        "seconds": {"wall": time.time() - started,
                    "train": sum(e["seconds"]["train"] for e in epochs),
                    "spectra": sum(sum(e["seconds"]["spectra"].values()) for e in epochs)},
        "host": {"threads": torch.get_num_threads(), "load_average_start": list(load_start),
                 "load_average_end": list(os.getloadavg()), "torch": torch.__version__,
                 "python": platform.python_version(), "machine": platform.machine()},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"{run['name']}.json", json.dumps(record, indent=1) + "\n")
    shutil.rmtree(run_dir, ignore_errors=True)
    return record


def _worker(run: dict, setup: dict, work: str, out: str) -> tuple[str, float | str | None, float]:
    torch.set_num_threads(1)
    start = time.time()
    record = train_run(run, setup, Path(work), Path(out))
    final = record["final"]["valid_ppl"] if record["final"] else record["failure"]
    return run["name"], final, time.time() - start


def finished(out: Path) -> set[str]:
    return {p.stem for p in out.glob("*.json")}


def run_pool(setup: dict, out: Path, work: Path, jobs: int, only: list[str] | None, max_runs: int | None,
             log=print) -> list[str]:
    """Train the missing runs, `jobs` at a time (one thread each); returns the names trained."""
    runs = [r for r in plan_runs(setup) if r["name"] not in finished(out)]
    if only:
        unknown = sorted(set(only) - {r["name"] for r in plan_runs(setup)})
        if unknown:
            raise SystemExit(f"--only: unknown run(s) {', '.join(unknown)}; see --list")
        runs = [r for r in runs if r["name"] in only]
    if max_runs is not None:
        runs = runs[:max_runs]
    log(f"{len(finished(out))} finished, training {len(runs)}: {' '.join(r['name'] for r in runs)}")
    if jobs <= 1:
        torch.set_num_threads(1)
        for run in runs:
            name, final, wall = _worker(run, setup, str(work), str(out))
            log(f"{name}: final valid ppl {final} ({wall:.0f} s)")
        return [r["name"] for r in runs]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_worker, run, setup, str(work), str(out)) for run in runs]
        for future in concurrent.futures.as_completed(futures):
            name, final, wall = future.result()
            log(f"{name}: final valid ppl {final} ({wall:.0f} s)")
    return [r["name"] for r in runs]


# --- measuring the cost -----------------------------------------------------------------------------

def measure(setup: dict, steps: int = 150, warm: int = 10) -> dict:
    """Seconds per training step (dense and one sparse candidate), per validation pass, per spectrum."""
    torch.set_num_threads(1)
    out = {"load_average_start": list(os.getloadavg()), "steps": steps, "threads": 1}
    full_data = dict(setup["data"], train_tokens=None)
    corpus = load_corpus(from_dict(DataConfig, full_data))
    probe = make_probe(corpus.valid, **{k: PROBE[k] for k in ("n_sequences", "length", "seed", "warmup",
                                                             "mode")})
    for kind, params in (("dense", None), ("sparse", draw_candidates(1)[0])):
        cfg = run_config(setup, params, 0)
        tokens = (steps + warm) * cfg.train.batch_size * cfg.train.bptt + 1
        cfg.data = from_dict(DataConfig, dict(full_data, train_tokens=tokens))
        work = Path(f"/tmp/hyperprune-pool-measure-{os.getpid()}-{kind}")
        shutil.rmtree(work, ignore_errors=True)
        trainer = Trainer(cfg, work, verbose=False, progress=False)
        timed, timed_cpu = _time_steps(trainer, steps, warm)
        start, start_cpu = time.perf_counter(), time.process_time()
        trainer.evaluate("valid")
        valid_s, valid_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        _, spectrum_s = measure_spectra(trainer, probe)
        start = time.perf_counter()
        if trainer.sparse is not None:
            trainer.sparse.end_of_epoch(1, trainer.optimizer)
        mask_s = time.perf_counter() - start
        out[kind] = {"step_s": timed / steps, "step_cpu_s": timed_cpu / steps, "valid_pass_s": valid_s,
                     "valid_pass_cpu_s": valid_cpu, "spectrum_s": spectrum_s,
                     "mask_update_s": mask_s, "valid_tokens": len(corpus.valid),
                     "params": sum(p.numel() for p in trainer.model.parameters())}
        shutil.rmtree(work, ignore_errors=True)
    out["load_average_end"] = list(os.getloadavg())
    out["train_tokens_full"] = len(corpus.train)
    return out


def _time_steps(trainer: Trainer, steps: int, warm: int) -> tuple[float, float]:
    """(wall, CPU) seconds of `steps` training steps after `warm` untimed ones: the loop of
    Trainer.train_epoch, stepped by hand so that nothing else is timed."""
    import torch.nn.functional as F

    from hyperprune.data import get_batch
    from hyperprune.models import detach_state

    t = trainer.cfg.train
    state = trainer.model.init_state(t.batch_size)
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    start = None
    for step in range(steps + warm):
        if step == warm:
            start, start_cpu = time.perf_counter(), time.process_time()
        x, y = get_batch(trainer.train_data, step * t.bptt, t.bptt)
        state = detach_state(state)
        logits, state = trainer.model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if trainer.sparse is not None:
            trainer.sparse.after_backward()
        torch.nn.utils.clip_grad_norm_(params, t.clip)
        trainer.optimizer.step()
        if trainer.sparse is not None:
            trainer.sparse.after_step(trainer.optimizer)
    return time.perf_counter() - start, time.process_time() - start_cpu


# --- command line ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once, one thread each")
    parser.add_argument("--only", nargs="+", metavar="RUN", help="train only these runs: names or numbers "
                        "from --list")
    parser.add_argument("--max-runs", type=int, help="train at most this many missing runs, then stop")
    parser.add_argument("--out", type=Path, help=f"where the per-run records go (default {RESULTS.name}/, "
                        f"with --recurrent-only {RECURRENT_RESULTS.name}/)")
    parser.add_argument("--recurrent-only", action="store_true",
                        help="the second pool: only the recurrent matrices masked (labelled as such)")
    parser.add_argument("--work", type=Path, default=WORK, help="scratch run directories (outside the repo)")
    parser.add_argument("--tiny", action="store_true", help="a three-run pool on a few hundred tokens (tests)")
    parser.add_argument("--list", action="store_true", help="list the runs and which are finished")
    parser.add_argument("--measure", action="store_true", help="time dense and sparse steps, print JSON")
    parser.add_argument("--steps", type=int, default=150, help="--measure: timed steps")
    args = parser.parse_args(argv)
    setup = TINY if args.tiny else RECURRENT_ONLY if args.recurrent_only else FULL
    if args.out is None:
        args.out = RECURRENT_RESULTS if args.recurrent_only else RESULTS
    if args.measure:
        print(json.dumps(measure(setup, args.steps), indent=1))
        return 0
    if args.list:
        done = finished(args.out)
        for number, run in enumerate(plan_runs(setup)):
            print(f"{number:3d} {run['name']:10s} {'done' if run['name'] in done else 'missing':8s} "
                  f"{json.dumps(run['params']) if run['params'] else ''}")
        return 0
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    planned = [run["name"] for run in plan_runs(setup)]
    if args.only:
        args.only = [planned[int(item)] if item.isdigit() and int(item) < len(planned) else item
                     for item in args.only]
    run_pool(setup, args.out, args.work, args.jobs, args.only, args.max_runs,
             log=lambda line: print(time.strftime("%H:%M:%S"), line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
