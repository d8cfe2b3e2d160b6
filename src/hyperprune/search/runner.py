"""The search loop every process runs: plan from the stored results, enqueue, claim a job, run it.

There is no coordinator. `hyperprune search` runs this loop and also writes `results.json` and
exports the winner; `hyperprune worker` runs the same loop on a study someone else created, and the
worker whose job completes the search writes them too, so they exist even when the search process
is gone. All of them plan from the same stored results, so they agree on every next step, and the
synchronous rounds wait until every score of a round is stored.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import optuna
import torch
import yaml

from hyperprune.config import differences, from_dict, to_dict
from hyperprune.errors import UserError
from hyperprune.files import atomic_write_text, run_dir_lock, writable_run_dir
from hyperprune.search import dashboard, schedule
from hyperprune.search.asha import proposals_of
from hyperprune.search.config import SearchConfig, resolved_paths
from hyperprune.search.execute import JobFailed, LeaseLost, Workbench
from hyperprune.search.jobs import Claim, Heartbeat, Job, JobQueue, JobRecord
from hyperprune.search.progress import (describe_tie, indistinguishable_choices, round_ties, search_banner,
                                        search_context, write_search_context, write_search_log)
from hyperprune.search.proposals import Proposer
from hyperprune.search.reference import check_k
from hyperprune.search.results import build_results, export_winner, write_results
from hyperprune.search.rounds import planned_sizes
from hyperprune.search.storage import SingleProcessLock, open_storage, redact, retrying, scheme
from hyperprune.train.progress import clock as _clock

CONFIG_ATTR = "hyperprune_config"
FORMAT = 1


def planned_epochs(cfg, n: int) -> int:
    """Candidate epochs a search of n unique candidates takes when none fails (for the ETA)."""
    s, final = cfg.search, cfg.final_epochs
    if s.strategy != "lsh":
        return n * final
    total, epoch = n * s.first_epoch, s.first_epoch
    sizes = planned_sizes(n, s.keep, s.finalists)
    if len(sizes) == 1:
        return total + n * (final - epoch)
    for m in sizes[1:]:
        if m <= s.finalists:
            return total + m * (final - epoch)
        nxt = min(epoch + s.epochs_per_round, final)
        total, epoch = total + m * (nxt - epoch), nxt
    return total


class SearchLoop:
    def __init__(self, cfg: SearchConfig, storage, *, device: str | None = None, owner: bool = False,
                 verbose: bool = True, poll_s: float = 2.0, bench: Workbench | None = None):
        self.cfg = cfg
        self.storage = storage
        self.owner = owner
        self.verbose = verbose
        self.poll_s = poll_s
        if cfg.search.threads is not None:
            torch.set_num_threads(cfg.search.threads)
        self.queue = JobQueue(storage, cfg.study_name + ".jobs", cfg.search.heartbeat_interval)
        self.study = optuna.load_study(study_name=cfg.study_name, storage=storage)
        self.bench = bench or Workbench(cfg, device)
        self.bench.study = self.study
        s = cfg.search
        self.proposer = None if s.strategy == "asha" else \
            Proposer(self.bench.space, s.sampler, cfg.seed, s.n_candidates, s.batch)
        self.start = time.perf_counter()
        self.wall_before = float(self.study.user_attrs.get("wall_s", 0.0)) if owner else 0.0
        self._printed_rounds = 0
        self._pool_printed = False
        self.finished_search = False      # set by run(): did a job of this process complete the search?

    # -- output ----------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        if self.verbose:
            print(line, flush=True)

    def elapsed(self) -> float:
        return self.wall_before + time.perf_counter() - self.start

    def eta(self, plan: schedule.Plan, records: dict[str, JobRecord]) -> float | None:
        work_s = 0.0
        trained: dict[Any, tuple[int, float]] = {}
        for record in records.values():
            if record.result is None:
                continue
            key = record.job.candidate if record.job.candidate is not None else "dense"
            epochs = record.result.get("epochs_trained", record.job.epoch if key == "dense" else 0)
            seconds = record.result.get("train_s", 0.0)
            old = trained.get(key, (0, 0.0))
            trained[key] = (max(old[0], epochs), max(old[1], seconds))
            work_s += record.result.get("spectrum_s", 0.0)
        done = sum(e for e, _ in trained.values())
        work_s += sum(t for _, t in trained.values())
        if done == 0:
            return None
        unique = sum(1 for p in plan.proposals if p.duplicate_of is None) if len(plan.proposals) == \
            self.cfg.search.n_candidates else self.cfg.search.n_candidates
        total = planned_epochs(self.cfg, unique) + self.cfg.final_epochs
        return max(total - done, 0) * work_s / done

    def report_job(self, job: Job, result: dict[str, Any] | None, seconds: float, plan, records,
                   failure: str | None = None) -> None:
        name = "dense" if job.candidate is None else f"candidate {job.candidate}"
        if job.kind == "final":
            name = f"finalist {job.candidate}"
        parts = [f"{name:>13}", f"epoch {job.epoch:3d}"]
        if failure is not None:
            parts.append(f"FAILED: {failure}")
        elif result.get("duplicate_of") is not None:
            parts.append(f"same settings as candidate {result['duplicate_of']}: not trained")
        else:
            if job.kind == "score":
                parts.append(f"score {result['score']:9.4g}")
            if job.kind == "asha":
                last = max(result["scores"], key=int)
                parts[1] = f"epoch {int(last):3d}"
                parts.append(f"score {result['scores'][last]:9.4g}")
                if result.get("pruned_at") is not None:
                    parts.append(f"pruned at rung {result['pruned_at']}")
            parts.append(f"valid ppl {result['valid_ppl']:8.2f}")
            if result.get("test_ppl") is not None:
                parts.append(f"test ppl {result['test_ppl']:8.2f}")
        eta = self.eta(plan, records)
        parts += [f"{seconds:6.1f} s", f"elapsed {_clock(self.elapsed())}",
                  f"ETA {_clock(eta) if eta is not None else '?'}"]
        self.say(" | ".join(parts))

    def report_plan(self, plan: schedule.Plan) -> None:
        s = self.cfg.search
        if not self._pool_printed and len(plan.proposals) == s.n_candidates and (plan.rounds or plan.finalists is not None):
            dups = [p for p in plan.proposals if p.duplicate_of is not None]
            if dups:
                self.say(f"pool: {s.n_candidates} proposals, {len(dups)} duplicate(s) collapsed: " +
                         ", ".join(f"{p.slot} = {p.duplicate_of}" for p in dups))
            self._pool_printed = True
        if s.strategy == "asha":
            return                     # rungs fill up asynchronously: results.json shows them
        for r in plan.rounds[self._printed_rounds:]:
            dropped = [c for c in r.candidates if c not in r.kept]
            self.say(f"round {r.round} at epoch {r.epoch}: kept {len(r.kept)} of {len(r.candidates)} "
                     f"{r.kept}, eliminated {dropped} | elapsed {_clock(self.elapsed())}")
            for tie in round_ties(r):
                self.say(f"warning: {describe_tie(tie)}")
        self._printed_rounds = len(plan.rounds)

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> tuple[schedule.Plan, dict[str, JobRecord]]:
        just_worked = False
        while True:
            records = self.queue.records()
            plan = self.plan(records)
            if self.owner:
                self.report_plan(plan)
                self.publish(plan, records)
            if plan.complete:
                # True when a job this process ran completed the search (see run_worker)
                self.finished_search = just_worked
                return plan, records
            self.queue.ensure(plan.jobs, records)
            claim = self.queue.claim()
            if claim is None:
                live = [r for r in records.values() if r.state in ("waiting", "running")]
                if not live and not plan.jobs:
                    raise RuntimeError("the search has nothing to run and is not complete (a bug)")
                self.queue.fail_stale()
                time.sleep(self.poll_s)
                just_worked = False
                continue
            # Another worker may have planned the claimed job from newer results (a new batch of the
            # pool, a dense spectrum just stored): plan again from what is stored now.
            records = self.queue.records()
            self.execute(claim, self.plan(records), records)
            just_worked = True

    def plan(self, records: dict[str, JobRecord]) -> schedule.Plan:
        asha = proposals_of(self.study) if self.proposer is None else None
        return schedule.plan(self.cfg, self.proposer, records, asha)

    def execute(self, claim: Claim, plan: schedule.Plan, records: dict[str, JobRecord]) -> None:
        job = claim.job
        start = time.perf_counter()
        if job.kind in ("score", "final") and self.cfg.search.strategy != "asha":
            dashboard.start_candidate(self.study, self.bench.space, plan.proposal(job.candidate))
        with Heartbeat(self.queue, claim.trial_id):
            try:
                result, value = self.bench.run(job, plan.proposals, records, lambda: self.queue.still_mine(claim))
            except JobFailed as exc:
                self.queue.fail(claim, exc.reason, exc.result)
                self.report_job(job, None, time.perf_counter() - start, plan, records, failure=exc.reason)
                return
            except LeaseLost:
                self.say(f"{job.key}: taken over by another worker; dropping this copy")
                return
            except BaseException:
                self.queue.interrupt(claim)
                raise
        if not self.queue.complete(claim, result, value):
            self.say(f"{job.key}: taken over by another worker; dropping this copy")
            return
        records = dict(records)
        records[job.key] = JobRecord(job, "done", result)
        self.record_candidate(job, plan, result)
        self.report_job(job, result, time.perf_counter() - start, plan, records)

    def record_candidate(self, job: Job, plan: schedule.Plan, result: dict[str, Any]) -> None:
        """The main study holds one trial per candidate, with its scores as intermediate values and
        real times: optuna-dashboard shows the search as it goes (see `dashboard.py`)."""
        if self.cfg.search.strategy != "asha" and job.candidate is not None:
            dashboard.record_scores(self.study, self.cfg.search.strategy, job, result)

    # -- the owner's outputs ---------------------------------------------------------------------

    def publish(self, plan: schedule.Plan, records: dict[str, JobRecord]) -> dict[str, Any]:
        run_dir = Path(self.cfg.run_dir)
        export_dir = None
        if plan.complete and plan.winner is not None:
            final = records[plan.winner_job.key]
            params = plan.proposal(plan.winner).params
            run_cfg = self.bench.space.run_config(params, str(self.bench.candidate_dir(plan.winner)))
            export_dir = export_winner(run_dir, final.result["checkpoint"], to_dict(run_cfg), params)
        wall_s = self.elapsed()
        if not self.owner:
            # A worker publishing for a search process that may be gone: the total so far is what that
            # process last stored, or this worker's own time where longer. Only the owner stores it.
            wall_s = max(wall_s, float(retrying(lambda: self.study.user_attrs).get("wall_s", 0.0)))
        results = build_results(self.cfg, plan, records, wall_s=wall_s, export_dir=export_dir)
        write_results(run_dir, results)
        write_search_log(run_dir, results)
        if self.cfg.search.strategy != "asha":
            dashboard.finish_candidates(self.study, self.cfg.search.strategy, plan, records)
        if self.owner:
            retrying(lambda: self.study.set_user_attr("wall_s", self.elapsed()))
        return results


# -- entry points ---------------------------------------------------------------------------------


def _open_study(cfg: SearchConfig, storage) -> None:
    """Create the study holding `cfg`, or check that an existing one holds the same search."""
    name = cfg.study_name
    stored_cfg = to_dict(cfg)
    try:
        study = retrying(lambda: optuna.load_study(study_name=name, storage=storage))
    except KeyError:
        study = None
    if study is None:
        try:
            study = retrying(lambda: optuna.create_study(study_name=name, storage=storage, direction="minimize"))
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=storage)
    held = study.user_attrs.get(CONFIG_ATTR)
    if held is None:
        retrying(lambda: study.set_user_attr(CONFIG_ATTR, stored_cfg))
        retrying(lambda: study.set_user_attr("hyperprune_format", FORMAT))
        return
    changed = [key for key, _, _ in differences(held, stored_cfg, OPERATIONAL)]
    if changed:
        shown = ", ".join(changed[:4]) + (", ..." if len(changed) > 4 else "")
        raise UserError(f"study '{name}' in {redact(cfg.storage_url)} holds a search with other settings "
                        f"({shown}); resume it with the same config, or start a new one with another "
                        f"run_dir or search.study_name")


# Settings a resumed search may change: where things run and where the corpus is read from.
OPERATIONAL = {"device", "data.data_dir", "search.threads"}


def run_search(cfg: SearchConfig, *, device: str | None = None, verbose: bool = True) -> dict[str, Any]:
    """Run (or resume) the search `cfg` describes; returns the contents of results.json."""
    cfg = resolved_paths(cfg)
    run_dir = writable_run_dir(Path(cfg.run_dir))
    check_k(cfg)
    bench = Workbench(cfg, device)
    bench.probe                                   # reads the corpus: bad data fails before anything is stored
    dir_lock = run_dir_lock(run_dir, "search").acquire()   # the same lock `train` takes
    lock = SingleProcessLock(cfg.storage_url)
    try:
        lock.acquire()
    except BaseException:
        dir_lock.release()
        raise
    threads = torch.get_num_threads()
    try:
        storage = open_storage(cfg.storage_url, cfg.search.heartbeat_interval)
        _open_study(cfg, storage)
        atomic_write_text(run_dir / "search.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
        loop = SearchLoop(cfg, storage, device=device, owner=True, verbose=verbose, bench=bench)
        if scheme(cfg.storage_url) == "sqlite":
            loop.queue.recover_running()          # this process holds the lock: RUNNING jobs are orphans
        context = search_context(cfg, bench, torch.get_num_threads())
        write_search_context(run_dir, context)         # the report's header reads it
        if verbose:
            print(search_banner(cfg, context, loop.queue.records(), redact(cfg.storage_url)), flush=True)
            for warning in indistinguishable_choices(bench.space, len(bench.corpus.vocab)):
                print(f"warning: {warning}", flush=True)
        plan, records = loop.run()
        results = loop.publish(plan, records)
        if verbose:
            print_summary(results)
        return results
    finally:
        torch.set_num_threads(threads)
        lock.release()
        dir_lock.release()


def load_study_config(storage, study_name: str) -> SearchConfig:
    try:
        study = retrying(lambda: optuna.load_study(study_name=study_name, storage=storage))
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage) if not s.study_name.endswith(".jobs")]
        from hyperprune.config import closest
        raise UserError(f"no study '{study_name}' in the storage{closest(study_name, names)}; "
                        f"studies there: {', '.join(names) or 'none'} (start one with 'hyperprune search')") from None
    held = study.user_attrs.get(CONFIG_ATTR)
    if held is None:
        raise UserError(f"study '{study_name}' was not created by 'hyperprune search'")
    return from_dict(SearchConfig, held)


def run_worker(storage_url: str, study_name: str, *, device: str | None = None, verbose: bool = True) -> None:
    """Join the search `study_name` in `storage_url` until it is complete."""
    if scheme(storage_url) == "sqlite":
        raise UserError("SQLite storage takes one process, so it cannot be shared with workers; run "
                        "'hyperprune search' alone, or put the study on postgresql:// (or mysql://, journal:///)")
    cfg = load_study_config(open_storage(storage_url), study_name)
    storage = open_storage(storage_url, cfg.search.heartbeat_interval)
    if verbose:
        print(f"worker joined '{study_name}' on {redact(storage_url)}", flush=True)
    loop = SearchLoop(cfg, storage, device=device, owner=False, verbose=verbose)
    plan, records = loop.run()
    if verbose:
        print(f"search '{study_name}' is complete; winner: candidate {plan.winner}", flush=True)
    if loop.finished_search:
        # The search process may be gone: the worker whose job completed the search writes
        # results.json and exports the winner, as `hyperprune search` does (the same files).
        try:
            results = loop.publish(plan, records)
        except OSError as exc:
            print(f"could not write the results to '{cfg.run_dir}' ({exc.strerror}); run 'hyperprune search' "
                  f"with the same config where that folder is writable to write them", flush=True)
            return
        if verbose:
            print(f"results written to {Path(cfg.run_dir) / 'results.json'}", flush=True)
            print_summary(results)


def print_summary(results: dict[str, Any]) -> None:
    dense, winner = results["dense"], results["winner"]
    cost = results["cost"]
    lines = ["", f"{'':>22} {'valid ppl':>10} {'test ppl':>10}"]
    if dense.get("valid_ppl") is not None:
        lines.append(f"{'dense':>22} {dense['valid_ppl']:10.2f} {dense['test_ppl']:10.2f}")
    if winner is not None:
        lines.append(f"{'winner (candidate ' + str(winner['id']) + ')':>22} {winner['valid_ppl']:10.2f} "
                     f"{winner['test_ppl']:10.2f}")
        lines.append("winner settings: " + ", ".join(f"{k}={v}" for k, v in winner["params"].items()))
        lines.append(f"exported to {winner['export_dir']} (hyperprune evaluate {winner['export_dir']})")
    else:
        lines.append("no winner: every candidate failed (see results.json)")
    lines.append(f"cost: {cost['epochs_total']} candidate epochs (full training would take "
                 f"{cost['full_training_epochs']}), {_clock(cost['wall_s'])} wall, "
                 f"{cost['spectrum_s']:.0f} s computing spectra")
    print("\n".join(lines), flush=True)
