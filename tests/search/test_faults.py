"""Faults in a single-process search: a diverging candidate, a corrupt checkpoint, an interruption,
SQLite's one-process rule, and a resumed search whose config changed."""

from __future__ import annotations

import pytest

from hyperprune.cli import main
from hyperprune.errors import UserError
from hyperprune.search import run_search
from hyperprune.search.config import resolved_paths
from hyperprune.search.runner import SearchLoop
from hyperprune.search.storage import SingleProcessLock, retrying

from .test_resume import comparable


def before_the_first_final(monkeypatch, action):
    """Run `action(candidate_dir, candidate)` before the search's first final job (once); returns the
    original `SearchLoop.execute`."""
    original = SearchLoop.execute
    done = []

    def execute(self, claim, plan, records):
        if claim.job.kind == "final" and not done:
            done.append(claim.job.candidate)
            action(self.bench.candidate_dir(claim.job.candidate), claim.job.candidate)
        return original(self, claim, plan, records)

    monkeypatch.setattr(SearchLoop, "execute", execute)
    return original


def test_a_diverging_candidate_is_marked_failed_and_the_search_goes_on(tiny_cfg):
    cfg = tiny_cfg(search={"n_candidates": 6, "space": {"train.lr": [2.0, 1.0e30],
                                                        "sparse.init": ["uniform", "ER"]}})
    results = run_search(cfg, verbose=False)
    failed = [c for c in results.candidates if c["status"] == "failed"]
    assert failed and all(c["params"]["train.lr"] == 1.0e30 for c in failed)
    assert all(c["failure"].startswith("diverged: ") for c in failed)
    assert all(c["id"] not in r["candidates"] for r in results.rounds for c in failed)
    assert results.status == "complete" and results.winner["params"]["train.lr"] == 2.0


def test_interrupted_search_with_a_corrupt_checkpoint_resumes_from_the_previous_good_one(tiny_cfg, tmp_path,
                                                                                         monkeypatch, tiny_search_run):
    _, straight, _ = tiny_search_run
    cfg = tiny_cfg(run_dir=tmp_path / "broken")
    damaged = []

    def crash(candidate_dir, candidate):
        newest = candidate_dir / "checkpoints" / "epoch-0002.pt"
        newest.write_bytes(newest.read_bytes()[:1000])               # truncated by a crash
        damaged.append(newest)
        raise KeyboardInterrupt                                       # the job stays claimed

    original = before_the_first_final(monkeypatch, crash)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, verbose=False)
    monkeypatch.setattr(SearchLoop, "execute", original)
    with pytest.warns(UserWarning, match="corrupt or incomplete"):
        resumed = run_search(cfg, verbose=False)
    expected = comparable(straight)
    expected["epochs"] += 1                  # the damaged candidate's epoch 2, trained again, counts
    assert damaged and comparable(resumed) == expected


def test_a_second_process_on_the_same_sqlite_file_gets_a_clear_message(tiny_cfg, tmp_path, capsys):
    import yaml
    from hyperprune.config import to_dict
    cfg = resolved_paths(tiny_cfg())
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(to_dict(cfg)))
    holder = SingleProcessLock(cfg.storage_url)
    holder.acquire()                                    # as a running search does
    try:
        assert main(["search", str(config)]) == 2
    finally:
        holder.release()
    err = capsys.readouterr().err.strip()
    assert "another hyperprune process is using the SQLite storage" in err and "\n" not in err
    assert main(["worker", "--storage", cfg.storage_url, "--study", cfg.study_name]) == 2
    err = capsys.readouterr().err.strip()
    assert "SQLite storage takes one process" in err and "database is locked" not in err


def test_resuming_with_other_settings_is_refused(tiny_cfg):
    run_search(tiny_cfg(search={"n_candidates": 2, "metric": "loss"}), verbose=False)
    with pytest.raises(UserError, match=r"holds a search with other settings \(search.keep\)"):
        run_search(tiny_cfg(search={"n_candidates": 2, "metric": "loss", "keep": 0.3}), verbose=False)


def test_storage_calls_are_retried_with_backoff(monkeypatch, capsys):
    import sqlalchemy.exc
    import optuna
    monkeypatch.setattr("time.sleep", lambda s: None)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            try:
                raise sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
            except sqlalchemy.exc.OperationalError as exc:
                raise optuna.exceptions.StorageInternalError("commit failed") from exc
        return "ok"

    assert retrying(flaky) == "ok" and len(calls) == 3
    assert capsys.readouterr().out.count("retrying") == 2
    with pytest.raises(ValueError):
        retrying(lambda: (_ for _ in ()).throw(ValueError("a bug is not retried")))


def test_a_deleted_candidate_checkpoint_is_retrained_with_a_warning_and_counted(tiny_cfg, tmp_path, monkeypatch,
                                                                                 tiny_search_run):
    """Issue 21: a finalist whose checkpoints were deleted was retrained from epoch 1 without a word,
    and the cost line then counted 10 epochs where 12 were trained."""
    import shutil

    _, straight, _ = tiny_search_run
    cfg = tiny_cfg(run_dir=tmp_path / "deleted")
    deleted = []

    def delete(candidate_dir, candidate):
        shutil.rmtree(candidate_dir / "checkpoints")
        deleted.append((candidate, candidate_dir / "checkpoints"))

    before_the_first_final(monkeypatch, delete)
    with pytest.warns(UserWarning) as caught:
        results = run_search(cfg, verbose=False)
    (candidate, folder), = deleted
    # e0 = 1, +1 a round, 3 epochs: a finalist was scored at epochs 1 and 2, then lost both
    assert [str(w.message) for w in caught if "is gone" in str(w.message)] == [
        f"candidate {candidate}: its checkpoint of epoch 2 in '{folder}' is gone; training it again "
        f"from epoch 1"]
    entry = next(c for c in results.candidates if c["id"] == candidate)
    assert entry["epochs_trained"] == 3 and entry["epochs_repeated"] == 2
    assert results.cost["epochs_total"] == straight.cost["epochs_total"] + 2
    assert all(c["epochs_repeated"] == 0 for c in results.candidates if c["id"] != candidate)
    # retraining is deterministic: the same winner and numbers
    assert results.winner["id"] == straight.winner["id"]
    assert results.winner["valid_ppl"] == straight.winner["valid_ppl"]
