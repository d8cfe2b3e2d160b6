"""The SQLite storage's file problems as one line naming the file (issue 21, section 5): a file that
is not a database, and a database deleted while the search runs."""

from __future__ import annotations

import optuna
import pytest
import yaml

from hyperprune.cli import main
from hyperprune.errors import UserError
from hyperprune.search import storage
from hyperprune.search.storage import open_storage, retrying

from tests.search.conftest import tiny_search_raw


def test_a_storage_file_that_is_not_a_database(tiny_corpus_dir, tmp_path, capsys):
    junk = tmp_path / "notes.db"
    junk.write_text("my notes, not a database\n")
    config = tmp_path / "search.yaml"
    config.write_text(yaml.safe_dump(tiny_search_raw(tiny_corpus_dir, tmp_path / "run")))
    assert main(["search", str(config), f"search.storage=sqlite:///{junk}"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"hyperprune: error: storage file '{junk}' is not an SQLite database; point search.storage at another "
        f"file (sqlite:///PATH), or move this one away to start a new study there")
    assert junk.read_text() == "my notes, not a database\n"


def test_an_empty_or_missing_file_is_a_new_study(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    for name in ("empty.db", "missing.db"):
        optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / name}"), study_name="s")


def test_a_database_deleted_under_a_search_is_one_line_without_retries(tmp_path, monkeypatch):
    db = tmp_path / "study.db"
    st = open_storage(f"sqlite:///{db}")
    optuna.create_study(storage=st, study_name="a")
    db.unlink()

    def no_sleep(seconds):
        raise AssertionError("retried a write that cannot succeed")

    monkeypatch.setattr(storage.time, "sleep", no_sleep)
    with pytest.raises(UserError) as err:
        retrying(lambda: optuna.create_study(storage=st, study_name="b"))
    assert str(err.value) == (f"the SQLite storage '{db}' was deleted while the search ran (attempt to write a "
                              f"readonly database); it holds the search's records: restore it and run the same "
                              f"command again, or start over with another run_dir")
