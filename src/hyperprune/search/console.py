"""What a search prints while it runs: one line per finished job with the elapsed time and an ETA,
the pool's duplicates and each round as it closes, and the summary at the end.

`SearchLoop` tells a `SearchConsole` what happened (a job finished, the plan changed, the search
ended); the wording and the ETA arithmetic live here. Lines go to stdout only when `verbose`.
"""

from __future__ import annotations

from typing import Any

from hyperprune.search.jobs import Job, JobRecord, job_scores
from hyperprune.search.seed_noise import margin_of
from hyperprune.search.ties import describe_tie, round_ties
from hyperprune.train.progress import clock as _clock, seconds_left


def eta_s(cfg, strategy, plan, records: dict[str, JobRecord]) -> float | None:
    """Seconds left when the planned candidate epochs still to train take as long as those done
    (`seconds_left`, the one ETA formula, on each model's furthest epoch in the job records)."""
    work_s = 0.0
    trained: dict[Any, tuple[int, float]] = {}
    for record in records.values():
        if record.result is None:
            continue
        key = record.job.candidate if record.job.candidate is not None else "dense"
        if record.job.kind == "seed":
            key = (key, record.job.replica)          # another model: its epochs add up
        epochs = record.result.get("epochs_trained", record.job.epoch if key == "dense" else 0)
        seconds = record.result.get("train_s", 0.0)
        old = trained.get(key, (0, 0.0))
        trained[key] = (max(old[0], epochs), max(old[1], seconds))
        work_s += record.result.get("spectrum_s", 0.0)
    done = sum(e for e, _ in trained.values())
    work_s += sum(t for _, t in trained.values())
    unique = sum(1 for p in plan.proposals if p.duplicate_of is None) if len(plan.proposals) == \
        cfg.search.n_candidates else cfg.search.n_candidates
    total = strategy.planned_epochs(unique) + cfg.final_epochs + strategy.planned_seed_epochs()
    return seconds_left(done, total, work_s)


class SearchConsole:
    def __init__(self, cfg, strategy, verbose: bool = True):
        self.cfg = cfg
        self.strategy = strategy
        self.verbose = verbose
        self._printed_rounds = 0
        self._pool_printed = False

    def say(self, line: str) -> None:
        if self.verbose:
            print(line, flush=True)

    def job_done(self, job: Job, result: dict[str, Any] | None, seconds: float, plan,
                 records: dict[str, JobRecord], elapsed_s: float, failure: str | None = None) -> None:
        name = "dense" if job.candidate is None else f"candidate {job.candidate}"
        if job.kind == "final":
            name = f"finalist {job.candidate}"
        if job.kind == "seed":
            name = f"{'dense' if job.candidate is None else 'finalist ' + str(job.candidate)} seed+{job.replica}"
        parts = [f"{name:>13}", f"epoch {job.epoch:3d}"]
        if failure is not None:
            parts.append(f"FAILED: {failure}")
        elif result.get("duplicate_of") is not None:
            parts.append(f"same settings as candidate {result['duplicate_of']}: not trained")
        else:
            # the epoch it reached: its last score's (a job may stop short of its own epoch)
            parts[1] = f"epoch {max(job_scores(job, result), default=job.epoch):3d}"
            parts += self.strategy.result_words(job, result)
            parts.append(f"valid ppl {result['valid_ppl']:8.2f}")
            if result.get("test_ppl") is not None:
                parts.append(f"test ppl {result['test_ppl']:8.2f}")
        eta = eta_s(self.cfg, self.strategy, plan, records)
        parts += [f"{seconds:6.1f} s", f"elapsed {_clock(elapsed_s)}",
                  f"ETA {_clock(eta) if eta is not None else '?'}"]
        self.say(" | ".join(parts))

    def epoch_done(self, job: Job, record) -> None:
        """A line per epoch a job trains short of its own (a job of several epochs, a finalist's above
        all, would be silent for long); the job's last epoch is its `job_done` line."""
        if record.epoch >= job.epoch:
            return
        name = "dense" if job.candidate is None else f"candidate {job.candidate}"
        if job.kind == "seed":
            name += f" seed+{job.replica}"
        # The dense model is trained in several jobs (one per compared epoch) towards one budget:
        # "epoch 1 of 2" followed by "epoch 3 of 4" read as two runs.
        target = self.cfg.final_epochs if job.candidate is None else job.epoch
        self.say(f"{name:>13} | epoch {record.epoch:3d} of {target:3d} | valid ppl {record.valid_ppl:8.2f} | "
                 f"{record.wall_s:6.1f} s, {record.tokens_per_s:,.0f} tok/s")

    def job_taken_over(self, job: Job) -> None:
        self.say(f"{job.key}: taken over by another worker; dropping this copy")

    def job_given_back(self, job: Job, why: str) -> None:
        self.say(f"{job.key}: {why}")

    def plan_changed(self, plan, elapsed_s: float) -> None:
        """Print the pool's duplicates once the pool is complete, and each round not printed yet."""
        s = self.cfg.search
        if not self._pool_printed and len(plan.proposals) == s.n_candidates and (plan.rounds or plan.finalists is not None):
            dups = [p for p in plan.proposals if p.duplicate_of is not None]
            if dups:
                self.say(duplicates_line(s.n_candidates, [(p.slot, p.duplicate_of) for p in dups]))
            self._pool_printed = True
        if not self.strategy.prints_rounds:
            return
        for r in plan.rounds[self._printed_rounds:]:
            dropped = [c for c in r.candidates if c not in r.kept]
            self.say(f"round {r.round} at epoch {r.epoch}: kept {len(r.kept)} of {len(r.candidates)} "
                     f"{r.kept}, eliminated {dropped} | elapsed {_clock(elapsed_s)}")
            for tie in round_ties(r):
                self.say(f"warning: {describe_tie(tie)}")
        self._printed_rounds = len(plan.rounds)

    def started(self, banner: str, warnings: list[str]) -> None:
        self.say(banner)
        for warning in warnings:
            self.say(f"warning: {warning}")

    def worker_joined(self, study_name: str, storage: str) -> None:
        self.say(f"worker joined '{study_name}' on {storage}")

    def worker_finished(self, study_name: str, winner: int | None) -> None:
        self.say(f"search '{study_name}' is complete; winner: candidate {winner}")

    def results_unwritable(self, exc: OSError) -> None:
        # printed even when quiet: the worker finished the search but its results are nowhere
        print(f"could not write the results to '{self.cfg.run_dir}' ({exc.strerror}); run 'hyperprune search' "
              f"with the same config where that folder is writable to write them", flush=True)

    def results_written(self, path) -> None:
        self.say(f"results written to {path}")

    def summary(self, results: dict[str, Any]) -> None:
        if self.verbose:
            print(summary_text(results), flush=True)


def setting_text(value: Any) -> str:
    """A searched setting as people write it: a float from a stepped range is a sum of binary
    fractions (0.4 + 3 x 0.1 = 0.7000000000000001), printed to 12 significant digits (0.7)."""
    return f"{value:.12g}" if isinstance(value, float) else str(value)


def duplicates_line(proposals: int, duplicates: list[tuple[int, int]]) -> str:
    """The pool's repeated proposals in words: (candidate, the candidate whose settings it repeats)."""
    n = len(duplicates)
    copies = "; ".join(f"candidate {c} repeats candidate {original}'s settings" for c, original in duplicates)
    return (f"pool: {proposals} proposals, {proposals - n} distinct: {copies} (the same run, so "
            f"{'it is' if n == 1 else 'they are'} not trained again)")


def summary_text(results: dict[str, Any]) -> str:
    """The end-of-search table: dense and winner perplexities, the winner's settings and the cost."""
    dense, winner = results["dense"], results["winner"]
    cost = results["cost"]
    # Each row is one saved state (search.final_state); `epoch` says which.
    state = results.get("config", {}).get("search", {}).get("final_state", "best-valid")
    lines = ["", f"{'':>22} {'valid ppl':>10} {'test ppl':>10}  {state} epoch"]
    epoch = lambda row: f"  {row['state_epoch']:>5}" if row.get("state_epoch") is not None else ""
    if dense.get("valid_ppl") is not None:
        lines.append(f"{'dense':>22} {dense['valid_ppl']:10.2f} {dense['test_ppl']:10.2f}{epoch(dense)}")
    if winner is not None:
        lines.append(f"{'winner (candidate ' + str(winner['id']) + ')':>22} {winner['valid_ppl']:10.2f} "
                     f"{winner['test_ppl']:10.2f}{epoch(winner)}")
        lines.append("winner settings: " + ", ".join(f"{k}={setting_text(v)}" for k, v in winner["params"].items()))
        lines.append(f"exported to {winner['export_dir']} (hyperprune evaluate {winner['export_dir']})")
    else:
        lines.append("no winner: every candidate failed (see results.json)")
    lines += seed_lines(results)
    extra = f" + {cost['seed_epochs']} under more seeds (dense's included)" if "seed_epochs" in cost else ""
    lines.append(f"cost: {cost['epochs_total']} candidate epochs{extra} (full training would take "
                 f"{cost['full_training_epochs']}), {_clock(cost['wall_s'])} wall, "
                 f"{cost['spectrum_s']:.0f} s computing spectra")
    return "\n".join(lines)


def seed_lines(results: dict[str, Any]) -> list[str]:
    """The winner's margin in seed noise (search.final_seeds): each finished model's mean over seeds,
    the winner against dense, and `seed_noise.margin_of`'s line (with one seed: not measured)."""
    seeds = results.get("seeds")
    lines = []
    for name, m in (seeds or {}).get("models", {}).items():
        label = "dense" if name == "dense" else f"candidate {name}"
        sd = f" ± {m['valid_sd']:.2f}" if m["valid_sd"] is not None else ""
        lines.append(f"{label:>22} valid ppl {m['valid_mean']:.2f}{sd} over seeds "
                     f"{', '.join(f'{v:.2f}' for v in m['valid_ppl'])} (mean ± sd; test {m['test_mean']:.2f})")
    vs_dense = (seeds or {}).get("winner_vs_dense")
    if vs_dense is not None:
        lo, hi = vs_dense["ci"]
        lines.append(f"dense vs winner: Δ = {vs_dense['difference']:.2f} [{lo:.2f}, {hi:.2f}] ppl "
                     f"({seeds['level']:.0%} Welch t interval, {seeds['n']} seeds)")
    margin = margin_of(seeds, results.get("winner"), results.get("candidates", []))
    return lines + ([margin] if margin is not None else [])
