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

from hyperprune.config import closest, differences, from_dict, to_dict
from hyperprune.errors import UserError
from hyperprune.files import atomic_write_text, run_dir_lock, writable_run_dir
from hyperprune.run_files import read_log, results_path, write_context, write_results
from hyperprune.search import dashboard, schedule
from hyperprune.search.asha_trial import TrialTakenOver
from hyperprune.search.banner import search_banner
from hyperprune.search.config import SearchConfig, resolved_paths
from hyperprune.search.console import SearchConsole
from hyperprune.search.candidate import JobFailed
from hyperprune.search.context import search_context
from hyperprune.search.execute import Workbench
from hyperprune.search.indistinguishable_choices import indistinguishable_choices
from hyperprune.search.jobs import Claim, Heartbeat, Job, JobGivenBack, JobLease, JobQueue, JobRecord, LeaseLost
from hyperprune.search.lyapunov_k import check_k
from hyperprune.search.results import build_results, export_winner, winner_run_dir
from hyperprune.search.search_log import write_search_log
from hyperprune.search.search_results import SearchResults, parse_search_results
from hyperprune.search.storage import SingleProcessLock, open_storage, quiet_optuna, redact, retrying, scheme
from hyperprune.search.strategies import strategy_for
from hyperprune.train.provenance import provenance, record_end
from hyperprune.train.tensorboard import NoMirror, search_run_name, tensorboard_mirror

CONFIG_ATTR = "hyperprune_config"
FORMAT = 1


class SearchLoop:
    """One process's part of a search: `hyperprune search` runs it as the owner (it also prints the
    rounds and keeps results.json current), `hyperprune worker` as a guest.

    One iteration of `run` reads the stored job records, plans from them (the same plan in every
    process), enqueues the jobs the plan asks for that are not stored yet, then claims one job and
    runs it, or waits `poll_s` when every job is taken. It returns when the plan is complete. What it
    prints goes through `console` (a `SearchConsole`), told what happened.

    `corpus` and `probe`, where given, were read by the caller already (see `Workbench`).
    """

    def __init__(self, cfg: SearchConfig, strategy, storage, *, device: str | None = None, owner: bool = False,
                 verbose: bool = True, poll_s: float = 2.0, corpus=None, probe=None):
        self.cfg = cfg
        self.storage = storage
        self.owner = owner
        self.poll_s = poll_s
        if cfg.search.threads is not None:
            torch.set_num_threads(cfg.search.threads)
        self.queue = JobQueue(storage, cfg.study_name + ".jobs", cfg.search.heartbeat_interval)
        self.study = optuna.load_study(study_name=cfg.study_name, storage=storage)
        self.strategy = strategy
        self.bench = Workbench(cfg, strategy, device, self.study, corpus=corpus, probe=probe)
        self.pool = self.strategy.pool(self.bench.space, self.study)
        self.console = SearchConsole(cfg, self.strategy, verbose)
        self.start = time.perf_counter()
        self.wall_before = float(self.study.user_attrs.get("wall_s", 0.0)) if owner else 0.0
        self.finished_search = False      # set by run(): did a job of this process complete the search?
        # --tensorboard: the search process mirrors RUN_DIR/log.jsonl each time it rewrites it
        self.tensorboard = NoMirror()

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> tuple[schedule.Plan, dict[str, JobRecord]]:
        just_worked = False
        while True:
            records = self.queue.records()
            plan = self.plan(records)
            if self.owner:
                self.console.plan_changed(plan, self.elapsed())
                self.publish(plan, records)
            if plan.complete:
                # True when a job this process ran completed the search (see run_worker)
                self.finished_search = just_worked
                self.queue.drop_settled_copies()
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
        return schedule.plan(self.cfg, self.strategy, self.pool, records)

    def execute(self, claim: Claim, plan: schedule.Plan, records: dict[str, JobRecord]) -> None:
        job = claim.job
        start = time.perf_counter()
        if job.candidate is not None and self.strategy.records_dashboard_trials:
            dashboard.start_candidate(self.study, self.bench.space, plan.proposal(job.candidate))
        with Heartbeat(self.queue, claim.trial_id):
            try:
                result, value = self.bench.run(job, plan.proposals, records, self.lease(claim))
            except JobFailed as exc:
                self.queue.fail(claim, exc.reason, exc.result)
                self.console.job_done(job, None, time.perf_counter() - start, plan, records, self.elapsed(),
                                      failure=exc.reason)
                return
            except (LeaseLost, TrialTakenOver):
                self.console.job_taken_over(job)
                return
            except JobGivenBack as exc:
                self.queue.interrupt(claim)        # planned again (after the job it waited on, say)
                self.console.job_given_back(job, str(exc))
                return
            except BaseException:
                self.queue.interrupt(claim)
                raise
        if not self.queue.complete(claim, result, value):
            self.console.job_taken_over(job)
            return
        records = dict(records)
        records[job.key] = JobRecord(job, "done", result)
        self.record_candidate(job, plan, result)
        self.console.job_done(job, result, time.perf_counter() - start, plan, records, self.elapsed())

    def lease(self, claim: Claim) -> JobLease:
        """What the job of `claim` may ask of this process while it runs (`jobs.JobLease`)."""
        def stored() -> dict[str, JobRecord]:
            self.queue.fail_stale()                # a worker that died no longer holds its job
            return self.queue.records()
        return JobLease(claim.job, lambda: self.queue.still_mine(claim), self.console.epoch_done, stored,
                        lambda: time.sleep(self.poll_s))

    def record_candidate(self, job: Job, plan: schedule.Plan, result: dict[str, Any]) -> None:
        """The main study holds one trial per candidate, with its scores as intermediate values and
        real times: optuna-dashboard shows the search as it goes (see `dashboard.py`)."""
        # a seed job trains another model: its candidate's trial holds the search's own seed's run
        if self.strategy.records_dashboard_trials and job.candidate is not None and job.kind != "seed":
            dashboard.record_scores(self.study, job, self.strategy.dashboard_values(job, result), result)

    def elapsed(self) -> float:
        """Wall seconds of the search so far: this process's, plus what the owner stored before a resume."""
        return self.wall_before + time.perf_counter() - self.start

    # -- the owner's outputs ---------------------------------------------------------------------

    def publish(self, plan: schedule.Plan, records: dict[str, JobRecord]) -> dict[str, Any]:
        run_dir = Path(self.cfg.run_dir)
        export_dir = None
        if plan.complete and plan.winner is not None:
            final = records[plan.winner_job.key]
            params = plan.proposal(plan.winner).params
            run_cfg = self.bench.space.run_config(params, winner_run_dir(self.cfg.run_dir))
            about = {"candidate": plan.winner, "search": str(run_dir), "study": self.cfg.study_name,
                     "epochs": final.job.epoch, "valid_ppl": final.result["valid_ppl"],
                     "test_ppl": final.result["test_ppl"]}
            export_dir = export_winner(run_dir, final.result["checkpoint"], to_dict(run_cfg), params, about,
                                       vocab=self.bench.corpus.vocab.itos)
        wall_s = self.elapsed()
        if not self.owner:
            # A worker publishing for a search process that may be gone: the total so far is what that
            # process last stored, or this worker's own time where longer. Only the owner stores it.
            wall_s = max(wall_s, float(retrying(lambda: self.study.user_attrs).get("wall_s", 0.0)))
        results = build_results(self.cfg, self.strategy, plan, records, wall_s=wall_s, export_dir=export_dir)
        write_results(run_dir, results)
        write_search_log(run_dir, results, self.bench.candidate_dir)
        self.tensorboard.update(read_log(run_dir))
        if self.strategy.records_dashboard_trials:
            over_seeds = None if self.cfg.search.final_seeds < 2 else \
                (lambda c: schedule.seed_results(self.cfg, self.strategy, records, c))
            dashboard.finish_candidates(self.study, plan, records, self.strategy.dashboard_value, over_seeds)
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
    try:
        # a setting added since the study was created reads as its default, not as a change
        held = to_dict(from_dict(SearchConfig, held))
    except UserError:
        pass                              # compared as stored: the differences say what is wrong
    changed = [key for key, _, _ in differences(held, stored_cfg, OPERATIONAL)]
    if changed:
        shown = ", ".join(changed[:4]) + (", ..." if len(changed) > 4 else "")
        raise UserError(f"study '{name}' in {redact(cfg.storage_url)} holds a search with other settings "
                        f"({shown}); resume it with the same config, or start a new one with another "
                        f"run_dir or search.study_name")


# Settings a resumed search may change: where things run and where the corpus is read from.
OPERATIONAL = {"device", "data.data_dir", "search.threads"}


@quiet_optuna()
def run_search(cfg: SearchConfig, *, device: str | None = None, verbose: bool = True,
               source: str | Path | None = None, tensorboard: str | Path | None = None) -> SearchResults:
    """Run (or resume) the search `cfg` describes; returns results.json as `load_results` reads it. `source`:
    the YAML file `cfg` was read from (context.json records its git commit). `tensorboard`: a folder
    that gets every model's epochs as TensorBoard scalars, one run per model (DIR/dense,
    DIR/candidate-0003)."""
    cfg = resolved_paths(cfg)
    run_dir = writable_run_dir(Path(cfg.run_dir))
    mirror = tensorboard_mirror(tensorboard, search_run_name)
    strategy = strategy_for(cfg)          # built once: the loop, its bench, console and results share it
    check_k(cfg, strategy)
    # A bad device, space or corpus fails before anything is stored; the loop's own bench, made for
    # the study once it exists, takes over the corpus and probe read here.
    checked = Workbench(cfg, strategy, device)
    for epoch in [cfg.search.first_epoch, *checked.strategy.compared_epochs()]:
        checked.probe_at(epoch)                         # every probe fits the validation split
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
        loop = SearchLoop(cfg, strategy, storage, device=device, owner=True, verbose=verbose,
                          corpus=checked.corpus, probe=checked.probe)
        loop.tensorboard = mirror
        bench = loop.bench
        if scheme(cfg.storage_url) == "sqlite":
            loop.queue.recover_running()          # this process holds the lock: RUNNING jobs are orphans
        context = search_context(cfg, bench, torch.get_num_threads())
        write_context(run_dir, {**context, **provenance(source)})         # the report's header reads it
        if verbose:
            loop.console.started(search_banner(cfg, strategy, context, loop.queue.records(), redact(cfg.storage_url)),
                                 indistinguishable_choices(bench.space, len(bench.corpus.vocab)))
        plan, records = loop.run()
        results = loop.publish(plan, records)
        record_end(run_dir)
        loop.console.summary(results)
        return parse_search_results(results, run_dir)
    finally:
        mirror.close()
        torch.set_num_threads(threads)
        lock.release()
        dir_lock.release()


def load_study_config(storage, study_name: str) -> SearchConfig:
    try:
        study = retrying(lambda: optuna.load_study(study_name=study_name, storage=storage))
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage) if not s.study_name.endswith(".jobs")]
        raise UserError(f"no study '{study_name}' in the storage{closest(study_name, names)}; "
                        f"studies there: {', '.join(names) or 'none'} (start one with 'hyperprune search')") from None
    held = study.user_attrs.get(CONFIG_ATTR)
    if held is None:
        raise UserError(f"study '{study_name}' was not created by 'hyperprune search'")
    return from_dict(SearchConfig, held)


@quiet_optuna()
def run_worker(storage_url: str, study_name: str, *, device: str | None = None, verbose: bool = True) -> None:
    """Join the search `study_name` in `storage_url` until it is complete."""
    if scheme(storage_url) == "sqlite":
        raise UserError("SQLite storage takes one process, so it cannot be shared with workers; run "
                        "'hyperprune search' alone, or put the study on postgresql:// (or mysql://, journal:///)")
    cfg = load_study_config(open_storage(storage_url), study_name)
    storage = open_storage(storage_url, cfg.search.heartbeat_interval)
    loop = SearchLoop(cfg, strategy_for(cfg), storage, device=device, owner=False, verbose=verbose)
    console = loop.console
    if verbose:
        # the same banner as the search process's: what this worker will train, on which device
        context = search_context(cfg, loop.bench, torch.get_num_threads())
        console.started(search_banner(cfg, loop.strategy, context, loop.queue.records(), redact(storage_url)), [])
    console.worker_joined(study_name, redact(storage_url))
    plan, records = loop.run()
    console.worker_finished(study_name, plan.winner)
    if loop.finished_search:
        # The search process may be gone: the worker whose job completed the search writes
        # results.json and exports the winner, as `hyperprune search` does (the same files).
        try:
            results = loop.publish(plan, records)
        except OSError as exc:
            console.results_unwritable(exc)
            return
        console.results_written(results_path(cfg.run_dir))
        console.summary(results)

