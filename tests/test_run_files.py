"""`hyperprune.run_files`: the one writer and reader of results.json, context.json, log.jsonl,
summary.json and winner.json."""

from __future__ import annotations

import os

import pytest

from hyperprune.errors import UserError
from hyperprune.run_files import (CONTEXT_NAME, LOG_NAME, RESULTS_NAME, SUMMARY_NAME, WINNER_NAME,
                                  is_winner_export, read_context, read_log, read_results, read_summary,
                                  read_winner, results_path, save_summary, winner_text, write_context,
                                  write_log, write_results)


def test_each_file_reads_back_what_was_written(tmp_path):
    results = {"status": "running", "candidates": [{"id": 0, "scores": {"1": 0.25}}]}
    assert write_results(tmp_path, results) == results_path(tmp_path) == tmp_path / RESULTS_NAME
    assert read_results(tmp_path) == results
    assert write_context(tmp_path, {"seed": 3, "ended": None}) == tmp_path / CONTEXT_NAME
    assert read_context(tmp_path) == {"seed": 3, "ended": None}
    entries = [{"epoch": 1, "valid_ppl": 120.5}, {"epoch": 2, "valid_ppl": None}]
    assert write_log(tmp_path, entries) == tmp_path / LOG_NAME
    assert read_log(tmp_path) == entries
    assert (tmp_path / LOG_NAME).read_text() == '{"epoch": 1, "valid_ppl": 120.5}\n{"epoch": 2, "valid_ppl": null}\n'
    summary = {"valid_ppl": 141.38, "test_ppl": 138.32, "epochs": 40}
    assert save_summary(tmp_path, summary) == tmp_path / SUMMARY_NAME
    assert read_summary(tmp_path) == summary


def test_winner_json_marks_an_export_and_its_text_is_fixed(tmp_path):
    about = {"candidate": 3, "valid_ppl": 136.5, "params": {"sparse.death": "magnitude"}}
    assert not is_winner_export(tmp_path)
    (tmp_path / WINNER_NAME).write_text(winner_text(about))
    assert is_winner_export(tmp_path) and read_winner(tmp_path) == about
    # An export compares this exact text to tell whether it is already in place.
    assert winner_text(about) == ('{\n  "candidate": 3,\n  "valid_ppl": 136.5,\n  "params": {\n'
                                  '    "sparse.death": "magnitude"\n  }\n}\n')


def test_a_run_directory_without_the_files(tmp_path):
    assert read_results(tmp_path) is None
    assert read_context(tmp_path) is None
    assert read_log(tmp_path) == []
    assert read_summary(tmp_path) is None


def test_a_damaged_file(tmp_path):
    (tmp_path / RESULTS_NAME).write_text('{"status": ')
    with pytest.raises(UserError, match=r"is not valid JSON \(line 1, column 12"):
        read_results(tmp_path)
    (tmp_path / RESULTS_NAME).write_bytes(b"\xff\xfe")
    with pytest.raises(UserError, match="is not UTF-8 text"):
        read_results(tmp_path)
    (tmp_path / CONTEXT_NAME).write_text("{")
    assert read_context(tmp_path) is None          # the report falls back to the config


def test_an_unchanged_log_is_not_rewritten(tmp_path):
    path = write_log(tmp_path, [{"epoch": 1}])
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    write_log(tmp_path, [{"epoch": 1}])
    assert path.stat().st_mtime_ns == 1_000_000_000
    write_log(tmp_path, [{"epoch": 1}, {"epoch": 2}])
    assert path.stat().st_mtime_ns != 1_000_000_000 and len(read_log(tmp_path)) == 2
