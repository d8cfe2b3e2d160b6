"""What `RUN_DIR/results.json` holds, the accounting of a search, and the exported winner (the file
itself is written and read by `hyperprune.run_files`).

The schema (epoch keys are strings, as JSON requires):

    {"status": "running" | "complete", "strategy", "metric", "config": {...},
     "winner": {"id", "params", "valid_ppl", "test_ppl", "state_epoch", "params_total", "params_nonzero",
                "checkpoint", "export_dir"} | null,
     "dense": {"valid_ppl", "test_ppl", "state_epoch", "valid_ppl_by_epoch": {"3": p},
               "spectra": {"3": [mean exponents]}, "epochs", "train_s", "spectrum_s", "dir"},
     "candidates": [{"id", "params", "scores": {"3": d}, "valid_ppl_by_epoch": {"3": p}, "spectra": {"3": [...]},
                     "epochs_trained", "epochs_repeated" (trained again: its checkpoints were lost),
                     "train_s", "spectrum_s", "final_valid_ppl", "final_test_ppl", "final_state_epoch",
                     "status": running | eliminated | finalist | winner | failed | duplicate,
                     "eliminated_in_round", "failure", "duplicate_of"}],
     "rounds": [{"round", "epoch", "candidates": [ids], "kept": [ids], "scores": {id: score}}],
     "cost": {"epochs_total", "wall_s", "train_s", "spectrum_s", "full_training_epochs",
              "seed_epochs", "seed_train_s" (search.final_seeds > 1: the extra seeds' training, dense's included)},
     "seeds": (search.final_seeds > 1 only) {"n", "seeds": [seed, seed+1, ...], "dense_seeds", "method": "welch-t",
               "level": 0.95,
               "models": {"dense" | id: {"valid_ppl": [per seed], "test_ppl": [...], "valid_mean", "valid_sd",
                                          "test_mean", "test_sd"}},
               "runner_up", "winner_vs_runner_up", "winner_vs_dense": {"difference" (other's mean - winner's,
               valid ppl), "ci": [lo, hi], "df", "level", "method", "within_noise"} | null, "margin_line"}}

A finished model's candidate entry then also holds "final_seeds" (its entry in "seeds.models"). The
winner is the lowest mean valid ppl over seeds; its "valid_ppl"/"test_ppl" stay those of the exported
file (the search's own seed), so that `hyperprune evaluate` reproduces them.

A model's final numbers (valid and test ppl, parameter counts) are all of one saved state, the one
`search.final_state` names, whose epoch is `state_epoch`; the winner's is the file exported.
Candidates' cost excludes the dense reference, which is shared by searches and reported under "dense".
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from hyperprune.config import to_dict
from hyperprune.search import seed_noise
from hyperprune.search.jobs import JobRecord, final_numbers, job_scores, job_spectra
from hyperprune.search.schedule import Plan, seed_results
from hyperprune.run_files import WINNER_NAME, winner_text
from hyperprune.strict_json import finite_or_null
from hyperprune.train.checkpoint import read_checkpoint, save_checkpoint


def _by_epoch(items: dict[int, Any]) -> dict[str, Any]:
    return {str(epoch): items[epoch] for epoch in sorted(items)}


def candidate_entries(plan: Plan, records: dict[str, JobRecord]) -> list[dict[str, Any]]:
    jobs_of: dict[int, list[JobRecord]] = {}
    for record in records.values():
        if record.job.candidate is not None and record.job.kind != "seed":     # seed jobs: seed_section
            jobs_of.setdefault(record.job.candidate, []).append(record)
    finalists = set(plan.finalists or [])
    entries = []
    for proposal in plan.proposals:
        c = proposal.slot
        scores: dict[int, float] = {}
        valid: dict[int, float] = {}
        spectra: dict[int, list] = {}
        epochs_trained, train_s, spectrum_s = 0, 0.0, 0.0
        repeated, repeated_s = 0, 0.0            # trained again after its checkpoints were lost
        final_valid = final_test = final_epoch = None
        for record in sorted(jobs_of.get(c, []), key=lambda r: r.job.epoch):
            result = record.result or {}
            valid.update({int(e): p for e, p in result.get("valid_ppl_by_epoch", {}).items()})
            epochs_trained = max(epochs_trained, result.get("epochs_trained", 0))
            train_s = max(train_s, result.get("train_s", 0.0))
            repeated += result.get("epochs_repeated", 0)
            repeated_s += result.get("train_s_repeated", 0.0)
            spectrum_s += result.get("spectrum_s", 0.0)
            # every candidate job's result has one shape (`jobs.job_scores`); a failed one's holds
            # the scores it reached before failing
            scores.update(job_scores(record.job, result))
            spectra.update(job_spectra(record.job, result))
            final = final_numbers(result) if record.state == "done" else None
            if final is not None:
                final_valid, final_test, final_epoch = final["valid_ppl"], final["test_ppl"], final.get("state_epoch")
        if proposal.duplicate_of is not None:
            status = "duplicate"
        elif c in plan.failed:
            status = "failed"
        elif c == plan.winner:
            status = "winner"
        elif c in plan.eliminated:
            status = "eliminated"
        elif c in finalists and plan.complete:
            status = "finalist"
        elif c in finalists and final_valid is not None:
            status = "finalist"
        else:
            status = "running"
        entries.append({
            "id": c,
            "params": proposal.params,
            "scores": _by_epoch(scores),
            "valid_ppl_by_epoch": _by_epoch(valid),
            "spectra": _by_epoch(spectra),
            "epochs_trained": epochs_trained,
            "epochs_repeated": repeated,
            "train_s": train_s + repeated_s,
            "spectrum_s": spectrum_s,
            "final_valid_ppl": final_valid,
            "final_test_ppl": final_test,
            "final_state_epoch": final_epoch,
            "status": status,
            "eliminated_in_round": plan.eliminated.get(c),
            "failure": plan.failed.get(c),
            "duplicate_of": proposal.duplicate_of,
        })
    return entries


def dense_entry(records: dict[str, JobRecord], final_epochs: int) -> dict[str, Any]:
    valid: dict[int, float] = {}
    spectra: dict[int, list] = {}
    out: dict[str, Any] = {"valid_ppl": None, "test_ppl": None}
    epochs, train_s, spectrum_s, directory = 0, 0.0, 0.0, None
    for record in records.values():
        if record.job.kind != "dense" or record.state != "done":
            continue
        result = record.result
        valid.update({int(e): p for e, p in result["valid_ppl_by_epoch"].items()})
        if result.get("spectrum") is not None:
            spectra[record.job.epoch] = result["spectrum"]
        epochs = max(epochs, record.job.epoch)
        train_s = max(train_s, result.get("train_s", 0.0))
        spectrum_s += result.get("spectrum_s", 0.0)
        directory = result.get("dir")
        if record.job.epoch == final_epochs:
            out.update(valid_ppl=result["valid_ppl"], test_ppl=result["test_ppl"],
                       state_epoch=result.get("state_epoch"))
    out.update(valid_ppl_by_epoch=_by_epoch(valid), spectra=_by_epoch(spectra), epochs=epochs,
               train_s=train_s, spectrum_s=spectrum_s, dir=directory)
    return out


def build_results(cfg, strategy, plan: Plan, records: dict[str, JobRecord], *, wall_s: float,
                  export_dir: Path | None = None) -> dict[str, Any]:
    s = cfg.search
    candidates = candidate_entries(plan, records)
    winner = None
    if plan.winner is not None:
        entry = next(c for c in candidates if c["id"] == plan.winner)
        final = records[plan.winner_job.key]
        # Every number here is of the one state in `checkpoint` (search.final_state), the file exported.
        winner = {"id": plan.winner, "params": entry["params"], "valid_ppl": final.result["valid_ppl"],
                  "test_ppl": final.result["test_ppl"], "state_epoch": final.result.get("state_epoch"),
                  "params_total": final.result.get("params_total"),
                  "params_nonzero": final.result.get("params_nonzero"),
                  "checkpoint": final.result["checkpoint"],
                  "export_dir": str(export_dir) if export_dir is not None else None}
    trained = [c for c in candidates if c["status"] != "duplicate"]
    out = {
        "status": "complete" if plan.complete else "running",
        "strategy": s.strategy,
        "metric": s.metric,
        "config": to_dict(cfg),
        "winner": winner,
        "dense": dense_entry(records, cfg.final_epochs),
        "candidates": candidates,
        "rounds": [r.to_dict() for r in plan.rounds],
        "cost": {
            "epochs_total": sum(c["epochs_trained"] + c["epochs_repeated"] for c in trained),
            "wall_s": wall_s,
            "train_s": sum(c["train_s"] for c in trained),
            "spectrum_s": sum(c["spectrum_s"] for c in trained),
            "full_training_epochs": s.n_candidates * cfg.final_epochs,
        },
    }
    if s.final_seeds > 1:                  # absent with one seed: results.json as it always was
        out["seeds"] = seed_section(cfg, strategy, plan, candidates, records)
        out["cost"]["seed_epochs"] = sum(r.result.get("epochs_trained", r.job.epoch) for r in records.values()
                                         if r.job.kind == "seed" and r.state == "done" and r.result)
        out["cost"]["seed_train_s"] = sum(r.result.get("train_s", 0.0) for r in records.values()
                                          if r.job.kind == "seed" and r.state == "done" and r.result)
    return finite_or_null(out)


def seed_section(cfg, strategy, plan: Plan, candidates: list[dict[str, Any]], records: dict[str, JobRecord]) -> dict[str, Any]:
    """search.final_seeds > 1: every finished model's final numbers under each seed (the search's
    seed first), mean and sd; the winner against the runner-up and the dense model (seed_noise.py).
    A model appears once all its seeds are done."""
    n = cfg.search.final_seeds

    def under_seeds(candidate: int | None) -> dict[str, Any] | None:
        runs = seed_results(cfg, strategy, records, candidate)
        if runs is None:
            return None
        return seed_noise.summary([r["valid_ppl"] for r in runs], [r["test_ppl"] for r in runs])

    models: dict[str, Any] = {}
    d = under_seeds(None)
    if d is not None:
        models["dense"] = d
    for entry in candidates:
        summary = under_seeds(entry["id"]) if entry["status"] != "duplicate" else None
        if summary is not None:
            entry["final_seeds"] = summary
            models[str(entry["id"])] = summary
    finalists = {c: models[str(c)]["valid_ppl"] for c in plan.finalists or []
                 if str(c) in models and c not in plan.failed}
    dense_seed = cfg.seed if cfg.search.dense_seed is None else cfg.search.dense_seed
    section: dict[str, Any] = {"n": n, "seeds": [cfg.seed + k for k in range(n)],
                               "dense_seeds": [dense_seed + k for k in range(n)], "method": seed_noise.METHOD,
                               "level": seed_noise.LEVEL, "models": models, "runner_up": None,
                               "winner_vs_runner_up": None, "winner_vs_dense": None}
    if plan.winner is not None and plan.winner in finalists:
        second = seed_noise.runner_up(finalists)
        section["runner_up"] = second
        if second is not None:
            section["winner_vs_runner_up"] = seed_noise.welch(finalists[plan.winner], finalists[second]).to_dict()
        if "dense" in models:
            section["winner_vs_dense"] = seed_noise.welch(finalists[plan.winner], models["dense"]["valid_ppl"]).to_dict()
    section["margin_line"] = seed_noise.margin_line(n, section["winner_vs_runner_up"])
    return section


def winner_run_dir(search_run_dir: str) -> str:
    """Where training from an exported winner's config.yaml writes: beside the search's run directory
    (`runs/demo` -> `runs/demo-winner`), not in the candidate folder the winner trained in."""
    path = Path(search_run_dir)
    return str(path.parent / f"{path.name}-winner")


def export_winner(run_dir: Path, checkpoint: str, run_config: dict[str, Any], params: dict[str, Any],
                  about: dict[str, Any] | None = None, vocab: list[str] | None = None) -> Path:
    """RUN_DIR/winner/: a self-contained copy of the winner for `hyperprune evaluate`, `export` and
    `hyperprune.load_model`: the checkpoint its final numbers were evaluated on (`search.final_state`:
    the best-validation state's evaluated weights and masks, or the last epoch's checkpoint), with the
    vocabulary and the config's `run_dir` set to `run_config`'s (away from the search); config.yaml,
    params.json and winner.json (`about`: candidate, search, epochs, perplexities; and the checkpoint it copies).
    `vocab` fills in a checkpoint written before checkpoints held their vocabulary.

    Safe to call again and from several processes at once (the search process and the worker that
    finished the search): an identical export is left alone, and each process stages its own copy.
    """
    target = Path(run_dir) / "winner"
    source = Path(checkpoint)
    config_text = yaml.safe_dump(run_config, sort_keys=False)
    params_text = json.dumps(params, indent=2) + "\n"
    source_sha = source.with_suffix(".sha256").read_text().strip()
    winner = winner_text({**(about or {}), "params": params, "checkpoint": str(source),
                          "checkpoint_sha256": source_sha})
    if _exported(target, config_text, params_text, winner):
        return target
    payload = read_checkpoint(source)
    payload["config"] = {**payload["config"], "run_dir": run_config["run_dir"]}
    if "vocab" not in payload and vocab is not None:
        payload["vocab"] = list(vocab)
    staging = Path(run_dir) / f".winner.tmp-{os.getpid()}"
    old = Path(run_dir) / f".winner.old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_checkpoint(staging / "checkpoints", payload["epoch"], payload)
    (staging / "config.yaml").write_text(config_text)
    (staging / "params.json").write_text(params_text)
    (staging / WINNER_NAME).write_text(winner)       # last: its presence marks a whole export
    try:
        for attempt in range(3):
            try:
                if target.exists():
                    target.rename(old)
                staging.rename(target)
                break
            except OSError:                  # another process is swapping in the same export right now
                time.sleep(0.2)
                if _exported(target, config_text, params_text, winner):
                    break
                if attempt == 2:
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


def _exported(target: Path, config_text: str, params_text: str, winner: str) -> bool:
    """Whether `target` already holds this export (winner.json names the source checkpoint's sha256)."""
    try:
        return ((target / "config.yaml").read_text() == config_text
                and (target / "params.json").read_text() == params_text
                and (target / WINNER_NAME).read_text() == winner)
    except OSError:
        return False
