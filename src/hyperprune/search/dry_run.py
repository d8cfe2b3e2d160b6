"""`hyperprune search --dry-run`: the resolved config, the planned rounds and cost, and a time estimate.

The estimate times 20 training steps of the dense model on the real data (`train.dry_run`, in a
temporary directory) and one spectrum of it with the search's probe and convention, then multiplies
by the planned candidate epochs, the dense reference's epochs and the planned spectra. Candidates
are sparse versions of that model: with masks as multiplications their steps cost about the same.
Nothing is trained past those steps, and nothing is written to the run directory or the storage
(so whether this would resume is not checked).
"""

from __future__ import annotations

import dataclasses
import tempfile
from typing import Any

from hyperprune.search.progress import planned_cost, planned_rounds
from hyperprune.search.strategies import strategy_for
from hyperprune.train.progress import clock


def planned_spectra(cfg) -> int:
    """Spectra a search plans to measure when no candidate fails: candidates' and the dense model's."""
    return strategy_for(cfg).planned_spectra()


def search_dry_run(cfg, bench) -> dict[str, Any]:
    """The numbers of a dry run (`bench` is the search's Workbench: corpus, probe, device)."""
    from hyperprune.search.reference import measure
    from hyperprune.train import Trainer
    from hyperprune.train.dry_run import time_steps

    with tempfile.TemporaryDirectory(prefix="hyperprune-dry-run-") as tmp:
        run_cfg = dataclasses.replace(bench.reference.config, run_dir=tmp)
        trainer = Trainer(run_cfg, tmp, device=bench.device, corpus=bench.corpus, verbose=False, progress=False)
        timing = time_steps(trainer)
        spectrum_s = measure(trainer, bench.probe, cfg)[1] if planned_spectra(cfg) else 0.0
    cost = planned_cost(cfg)
    dense_epochs = cfg.final_epochs
    spectra = planned_spectra(cfg)
    epoch_s = timing.epoch_with_validation_s
    estimated = (cost["candidate_epochs"] + dense_epochs) * epoch_s + spectra * spectrum_s
    return {
        "dry_run": True,
        "rounds": planned_rounds(cfg),
        **cost,
        "dense_epochs": dense_epochs,
        "spectra": spectra,
        "timed_steps": timing.steps,
        "seconds_per_step": timing.seconds_per_step,
        "epoch_s": epoch_s,
        "spectrum_s": spectrum_s,
        "estimated_s": estimated,
        "estimated_full_training_s": cost["full_training_epochs"] * epoch_s,
    }


def describe_search_dry_run(plan: dict[str, Any]) -> str:
    return "\n".join([
        f"timing: {plan['timed_steps']} steps of the dense model at {plan['seconds_per_step'] * 1000:.1f} ms: "
        f"about {clock(plan['epoch_s'])} per epoch with validation; one spectrum {plan['spectrum_s']:.2f} s",
        f"estimate: {plan['candidate_epochs']} candidate epochs + {plan['dense_epochs']} dense epochs + "
        f"{plan['spectra']} spectra = about {clock(plan['estimated_s'])} on one process "
        f"(training all candidates fully: about {clock(plan['estimated_full_training_s'])})",
        "dry run: nothing was trained or written",
    ])


def dry_run(cfg, device: str | None = None) -> dict[str, Any]:
    """Print what `run_search(cfg)` would do and how long it would take; return the numbers."""
    import torch
    import yaml

    from hyperprune.config import to_dict
    from hyperprune.search.config import resolved_paths
    from hyperprune.search.execute import Workbench
    from hyperprune.search.progress import indistinguishable_choices, search_banner, search_context
    from hyperprune.search.reference import check_k
    from hyperprune.search.storage import redact

    cfg = resolved_paths(cfg)
    check_k(cfg)
    bench = Workbench(cfg, device)
    threads = torch.get_num_threads()
    if cfg.search.threads is not None:
        torch.set_num_threads(cfg.search.threads)
    try:
        print(yaml.safe_dump(to_dict(cfg), sort_keys=False).rstrip())
        context = search_context(cfg, bench, torch.get_num_threads())
        print(search_banner(cfg, context, None, redact(cfg.storage_url)), flush=True)
        for warning in indistinguishable_choices(bench.space, len(bench.corpus.vocab)):
            print(f"warning: {warning}", flush=True)
        plan = search_dry_run(cfg, bench)
    finally:
        torch.set_num_threads(threads)
    print(describe_search_dry_run(plan))
    return {**plan, "config": to_dict(cfg)}
