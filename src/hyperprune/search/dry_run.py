"""`hyperprune search --dry-run`: the resolved config, the planned rounds and cost, what the device
needs, and a time estimate.

What the device needs is computed, on any machine, for the device the search will run on (a laptop
plans a GPU run; `train/footprint.py` says how): parameters, FLOPs per training epoch and per
spectrum, the memory of one training step, and the disk the search's checkpoints take.

The time estimate (skipped with `--no-timing`, or when the device is not on this machine) times
training steps of the dense model on the real data (`train.dry_run`: at most 20 steps or about a
minute, whichever comes first) and one spectrum of it with the search's probe and convention (one
step of it first; the whole spectrum only when that step says it fits in `SPECTRUM_BUDGET_S`, else
extrapolated from it), then multiplies by the planned candidate epochs, the dense reference's epochs
and the planned spectra. Candidates are sparse versions of that model: with masks as
multiplications their steps cost about the same. Nothing is trained past those steps, and nothing is
written anywhere: not to the run directory, the storage (so whether this would resume is not
checked) nor a temporary folder, so a dry run killed at any moment leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from hyperprune.config import to_dict
from hyperprune.errors import UserError
from hyperprune.files import check_run_dir
from hyperprune.lyapunov import make_probe, model_spectrum
from hyperprune.lyapunov.spectrum import spectrum_flops
from hyperprune.search.banner import search_banner
from hyperprune.search.config import resolved_paths
from hyperprune.search.context import search_context
from hyperprune.search.execute import Workbench
from hyperprune.search.indistinguishable_choices import indistinguishable_choices
from hyperprune.search.lyapunov_k import check_k, state_size
from hyperprune.search.spectrum import measure
from hyperprune.search.storage import quiet_optuna, redact
from hyperprune.search.strategies import strategy_for
from hyperprune.train import Trainer
from hyperprune.train.dry_run import BUDGET_S, time_steps
from hyperprune.train.footprint import run_footprint
from hyperprune.train.trainer import resolve_run_config
from hyperprune.train.progress import clock as clock_text

SPECTRUM_BUDGET_S = 30.0      # a whole spectrum is timed when its first step says it fits in this
KEPT_CHECKPOINTS = 2          # a run directory keeps its newest two (train.checkpoint.save_checkpoint)


# -- what the device needs ------------------------------------------------------------------------


def planned_disk(strategy, checkpoint_bytes: int, weights_bytes: int) -> dict[str, int]:
    """The files a search leaves when it ends as planned, as the code keeps them today: every run
    directory (each candidate's and the dense model's) keeps its newest two checkpoints, and one kept
    state (`measurement.BEST_VALID`: the weights of its best-validation epoch) whenever that state is
    needed, by `search.final_state: best-valid` or by spectra measured at `last-improving`; nobody
    deletes it, for an eliminated candidate, a finalist or the dense model alike. The winner's export
    is one more checkpoint. So an eliminated candidate keeps about three checkpoints' worth.
    `strategy`: the search's (`SearchStrategy`), its config `strategy.cfg`."""
    cfg = strategy.cfg
    final = cfg.final_epochs
    trained_to = []                                   # per unique candidate, the epoch it stops at
    for r in strategy.planned_rounds():
        trained_to += [r["epoch"]] * (r["candidates"] - r["kept"])
    finalists = cfg.search.n_candidates - len(trained_to)       # asha: at most, none stopped at a rung
    trained_to += [final] * finalists
    checkpoints = sum(min(KEPT_CHECKPOINTS, e) for e in trained_to) + min(KEPT_CHECKPOINTS, final) + 1
    kept_state = (cfg.search.final_state == "best-valid"
                  or (bool(strategy.compared_epochs()) and cfg.lyapunov.measure == "last-improving"))
    weights = len(trained_to) + 1 if kept_state else 0                   # + the dense model's
    return {"checkpoints": checkpoints, "weights_files": weights, "checkpoint_bytes": checkpoint_bytes,
            "weights_bytes": weights_bytes, "bytes": checkpoints * checkpoint_bytes + weights * weights_bytes}


def device_plan(cfg, strategy, corpus) -> dict[str, Any]:
    """What the search asks of its device, computed without it (see the module docstring)."""
    # A candidate's run (the dense model's, plus the masks): the larger checkpoint and training step.
    footprint = run_footprint(resolve_run_config(cfg.run_config()), len(corpus.vocab))
    lyap = cfg.lyapunov
    n = state_size(cfg)
    # The reference convention moves the frame through its warm-up too (conventions.model_spectrum).
    tangent_steps = lyap.length + (lyap.warmup if lyap.convention == "reference" else 0)
    return {
        "parameters": footprint.parameters,
        "flops_per_token": footprint.flops_per_token,
        "flops_per_epoch": footprint.training_flops(corpus.train.numel(), corpus.valid.numel()),
        "flops_per_spectrum": spectrum_flops(n, lyap.k or n, tangent_steps, lyap.sequences),
        "step_memory_bytes": footprint.step_memory_bytes,
        "saved_for_backward_bytes": footprint.saved_for_backward_bytes,
        "step_memory_how": "computed",
        "disk": planned_disk(strategy, footprint.checkpoint_bytes, footprint.weights_bytes),
    }


def size_text(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def describe_device_plan(cfg, plan: dict[str, Any]) -> str:
    disk = plan["disk"]
    t = cfg.train
    weights = (f" and {disk['weights_files']} kept best-validation states of {size_text(disk['weights_bytes'])}"
               if disk["weights_files"] else "")
    kept = ", every model also its best-validation state" if disk["weights_files"] else ""
    spectrum = (f"; {plan['flops_per_spectrum']:.3g} per spectrum" if plan["spectra"] else "; no spectrum planned")
    return "\n".join([
        f"plan for {plan['device']}:",
        f"  parameters {plan['parameters']:,} (the dense model; candidates mask some, the device still "
        f"multiplies them)",
        f"  FLOPs      {plan['flops_per_epoch']:.3g} per training epoch with validation "
        f"({plan['flops_per_token']:,} per token forward, x3 to train){spectrum}",
        f"  memory     about {size_text(plan['step_memory_bytes'])} for one training step at batch "
        f"{t.batch_size} x bptt {t.bptt} (computed, not measured: weights, gradients, optimiser state and "
        f"{size_text(plan['saved_for_backward_bytes'])} of activations kept for the backward pass)",
        f"  disk       about {size_text(disk['bytes'])} when the search ends: {disk['checkpoints']} checkpoints "
        f"of {size_text(disk['checkpoint_bytes'])}{weights} (each model keeps its newest two checkpoints{kept}; "
        f"the winner's export is one more)",
    ])


# -- time ------------------------------------------------------------------------------------------


def time_search(cfg, bench, *, budget_s: float = BUDGET_S, clock: Callable[[], float] = time.perf_counter,
                say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Seconds per dense epoch and per spectrum on this machine (`bench`: the search's Workbench)."""
    say = say or (lambda line: None)
    # A folder that is never created: the timed trainer saves nothing (time_steps stops it before
    # its first checkpoint), so there is nothing to clean up, even after a kill -9. Removed anyway
    # should some future trainer write there.
    scratch = Path(tempfile.gettempdir()) / f"hyperprune-dry-run-{uuid.uuid4().hex[:12]}"
    try:
        run_cfg = dataclasses.replace(bench.reference.config, run_dir=str(scratch))
        say(f"timing: building the dense model on {bench.device}")
        trainer = Trainer(run_cfg, scratch, device=bench.device, corpus=bench.corpus, verbose=False, progress=False)
        say(f"timing: up to 20 training steps of {trainer.steps_per_epoch:,} per epoch, or about {budget_s:.0f} s")
        timing = time_steps(trainer, budget_s=budget_s, clock=clock, say=say)
        spectrum_s, spectrum_how = time_spectrum(cfg, bench, trainer, clock=clock, say=say) \
            if bench.strategy.planned_spectra() else (0.0, "none planned")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"timing": timing, "spectrum_s": spectrum_s, "spectrum_how": spectrum_how}


def time_spectrum(cfg, bench, trainer, *, clock: Callable[[], float],
                  say: Callable[[str], None]) -> tuple[float, str]:
    """(seconds, how) of one spectrum of the trainer's model: one tangent step first, then the whole
    spectrum when that step says it takes at most SPECTRUM_BUDGET_S, else that step times the steps."""
    lyap = cfg.lyapunov
    steps = lyap.length + (lyap.warmup if lyap.convention == "reference" else 0)
    one = make_probe(bench.corpus.valid, n_sequences=lyap.sequences, length=1, warmup=0, seed=lyap.seed,
                     mode=lyap.probe)
    say(f"timing: one step of a spectrum ({lyap.sequences} sequences)")
    start = clock()
    with trainer.evaluation_weights():
        model_spectrum(trainer.model, one, convention=lyap.convention, k=lyap.k, warmup=0, seed=lyap.seed)
    step_s = clock() - start
    if step_s * steps > SPECTRUM_BUDGET_S:
        return step_s * steps, f"extrapolated from 1 of its {steps} steps"
    say(f"timing: one whole spectrum ({steps} steps)")
    start = clock()
    measure(trainer, bench.probe, cfg)
    return clock() - start, "measured"


def estimate(strategy, timed: dict[str, Any]) -> dict[str, Any]:
    cost = strategy.planned_cost()
    timing = timed["timing"]
    epoch_s = timing.epoch_with_validation_s
    spectra = strategy.planned_spectra()
    dense = cost["dense_epochs"]
    return {
        "timed_steps": timing.steps,
        "timing_stopped_by": timing.stopped_by,
        "timing": timing.describe(),
        "seconds_per_step": timing.seconds_per_step,
        "epoch_s": epoch_s,
        "spectrum_s": timed["spectrum_s"],
        "spectrum_timing": timed["spectrum_how"],
        # the extra seeds (search.final_seeds) train whole models, as many epochs as planned
        "estimated_s": (cost["candidate_epochs"] + dense + cost.get("seed_epochs", 0)) * epoch_s
        + spectra * timed["spectrum_s"],
        # strategy full trains the same dense model, and measures no spectrum
        "estimated_full_training_s": (cost["full_training_epochs"] + dense) * epoch_s,
    }


def describe_estimate(plan: dict[str, Any]) -> str:
    return "\n".join([
        f"timing: {plan['timing']} of the dense model: about {clock_text(plan['epoch_s'])} per epoch with "
        f"validation; one spectrum {plan['spectrum_s']:.2f} s ({plan['spectrum_timing']})",
        f"estimate: {plan['candidate_epochs']} candidate epochs + {plan['dense_epochs']} dense epochs + "
        + (f"{plan['seed_epochs']} epochs under more seeds + " if "seed_epochs" in plan else "") +
        f"{plan['spectra']} spectra = about {clock_text(plan['estimated_s'])} on one process "
        f"(training all candidates fully, and the dense model: about "
        f"{clock_text(plan['estimated_full_training_s'])})",
    ])


# -- the command -----------------------------------------------------------------------------------


@quiet_optuna()
def dry_run(cfg, device: str | None = None, *, timing: bool = True, budget_s: float = BUDGET_S,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Print what `run_search(cfg)` would do, what it needs of its device and (with `timing`) how
    long it would take; return the numbers."""
    cfg = resolved_paths(cfg)
    strategy = strategy_for(cfg)            # built once, for everything the dry run plans
    check_run_dir(cfg.run_dir)              # what the real run would refuse, the dry run says too
    check_k(cfg, strategy)
    requested = device or cfg.device
    absent = None
    try:
        bench = Workbench(cfg, strategy, device)
    except UserError:
        if (requested or "auto").split(":")[0].strip().lower() not in ("cuda", "mps"):
            raise
        # Planning a GPU run from a machine without one: the data and the plan are the same here.
        absent, bench = requested, Workbench(cfg, strategy, "cpu")
    planned_device = absent or str(bench.device)
    threads = torch.get_num_threads()
    if cfg.search.threads is not None:
        torch.set_num_threads(cfg.search.threads)
    say = lambda line: print(line, flush=True)
    try:
        print(yaml.safe_dump(to_dict(cfg), sort_keys=False).rstrip())
        context = search_context(cfg, bench, torch.get_num_threads())
        context["device"] = planned_device
        print(search_banner(cfg, strategy, context, None, redact(cfg.storage_url)), flush=True)
        for warning in indistinguishable_choices(bench.space, len(bench.corpus.vocab)):
            print(f"warning: {warning}", flush=True)
        plan: dict[str, Any] = {"dry_run": True, "device": planned_device, "rounds": strategy.planned_rounds(),
                                **strategy.planned_cost(), "spectra": strategy.planned_spectra(),
                                **device_plan(cfg, strategy, bench.corpus)}
        print(describe_device_plan(cfg, plan), flush=True)
        if absent is not None:
            plan["timing_skipped"] = f"{absent} is not available on this machine"
        elif not timing:
            plan["timing_skipped"] = "--no-timing"
        else:
            plan.update(estimate(strategy, time_search(cfg, bench, budget_s=budget_s, clock=clock, say=say)))
    finally:
        torch.set_num_threads(threads)
    if "timing_skipped" in plan:
        print(f"timing: skipped ({plan['timing_skipped']}); the plan above does not depend on it")
    else:
        print(describe_estimate(plan))
    print("dry run: nothing was trained or written")
    return {**plan, "config": to_dict(cfg)}
