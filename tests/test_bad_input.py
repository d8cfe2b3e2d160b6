"""The bad-input matrix: each mistake gives one clear line and exit code 2, and leaves the results
of an earlier search on disk untouched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from hyperprune.cli import main

from search.conftest import tiny_search_raw   # tests/search: the tiny search config


@pytest.fixture
def precious(tmp_path) -> Path:
    """A run directory holding an earlier search's results, which no failing command may touch."""
    run = tmp_path / "precious"
    (run / "candidates" / "0000" / "checkpoints").mkdir(parents=True)
    (run / "results.json").write_text('{"status": "complete"}\n')
    (run / "study.db").write_bytes(b"SQLite format 3\x00" + bytes(100))
    (run / "candidates" / "0000" / "checkpoints" / "epoch-0001.pt").write_bytes(b"weights")
    return run


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def bad_corpus(tmp_path: Path, tiny_corpus_dir: Path, problem: str) -> Path:
    folder = tmp_path / f"corpus-{problem}"
    shutil.copytree(tiny_corpus_dir, folder)
    train = folder / "train.txt"
    if problem == "missing":
        train.unlink()
    elif problem == "empty":
        train.write_bytes(b"")
    elif problem == "binary":
        train.write_bytes(b"w1 w2\x00\x01\x02 w3\n")
    elif problem == "latin1":
        train.write_bytes("w1 caf\u00e9 w2\n".encode("latin-1"))
    return folder


def write(tmp_path: Path, raw: dict) -> str:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_clear_line(code: int, err: str, expected: str) -> None:
    assert code == 2
    assert err.startswith("hyperprune: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    assert expected in err, err


@pytest.mark.parametrize("problem, expected", [
    ("missing", "is missing train.txt"),
    ("empty", "is empty"),
    ("binary", "looks binary (NUL byte at byte offset 5)"),
    ("latin1", "is not UTF-8 text (byte 0xe9"),
])
def test_bad_data_files(problem, expected, tiny_corpus_dir, tmp_path, precious, capsys):
    raw = tiny_search_raw(bad_corpus(tmp_path, tiny_corpus_dir, problem), precious)
    before = snapshot(precious)
    assert_one_clear_line(*run_cli(["search", write(tmp_path, raw)], capsys), expected)
    assert snapshot(precious) == before


@pytest.mark.parametrize("override, expected", [
    ("sparse.sparsity=1.5", "sparse.sparsity = 1.5 is out of range; allowed: [0.0, 1.0)"),
    ("sparse.sparsity=-0.1", "sparse.sparsity = -0.1 is out of range"),
    ("search.keep=1.5", "search.keep = 1.5 is out of range; allowed: (0.0, 1.0)"),
    ("search.keep=0", "search.keep = 0.0 is out of range"),
    ("search.first_epoch=10", "search.first_epoch = 10 is beyond the budget of 3 epochs"),
    ("lyapunov.k=1000", "lyapunov.k = 1000 is beyond the state size 32"),
    ("train.epochs=-3", "train.epochs = -3 is out of range"),
    ("search.final_epochs=-1", "search.final_epochs = -1 is out of range"),
    ("search.strategy=successive", "unknown search.strategy 'successive'"),
    ("search.sampler=bayes", "unknown search.sampler 'bayes'"),
    ("sparse.preset=selfishrnn", "unknown sparse.preset 'selfishrnn' (did you mean 'selfish-rnn'?)"),
    ("model.preset=lstm-tinny", "unknown model preset 'lstm-tinny' (did you mean 'lstm-tiny'?)"),
    ("sparse.death=magnitde", "unknown sparse.death 'magnitde' (did you mean 'magnitude'?)"),
    ("search.n_candidate=4", "unknown config key 'search.n_candidate' (did you mean 'n_candidates'?)"),
    ("lyapunov.distanse=l2", "(did you mean 'distance'?)"),
    ("serch.keep=0.5", "unknown config key 'serch' (did you mean 'search'?)"),
    ("search.storage=postgresql://postgres@127.0.0.1:1/test", "cannot reach storage 'postgresql://postgres@127.0.0.1:1/test'"),
    ("search.storage=redis://localhost", "unknown scheme 'redis'"),
])
def test_bad_values(override, expected, tiny_corpus_dir, tmp_path, precious, capsys):
    config = write(tmp_path, tiny_search_raw(tiny_corpus_dir, precious))
    before = snapshot(precious)
    assert_one_clear_line(*run_cli(["search", config, override], capsys), expected)
    assert snapshot(precious) == before


def test_malformed_yaml(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("search:\n  keep: [0.5\n  strategy: lsh\n")
    assert_one_clear_line(*run_cli(["search", str(path)], capsys), "is not valid YAML at line")


def test_missing_config_file(tmp_path, capsys):
    assert_one_clear_line(*run_cli(["search", str(tmp_path / "nope.yaml")], capsys), "nope.yaml' does not exist")


def test_config_that_is_not_a_mapping(tmp_path, capsys):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    assert_one_clear_line(*run_cli(["search", str(path)], capsys), "must hold a mapping of settings")


def test_unwritable_run_directory(tiny_corpus_dir, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = write(tmp_path, tiny_search_raw(tiny_corpus_dir, blocker / "run"))
    assert_one_clear_line(*run_cli(["search", config], capsys), "is not writable")
    assert blocker.read_text() == "not a folder"


def test_worker_on_unreachable_storage_and_unknown_study(tmp_path, capsys):
    assert_one_clear_line(*run_cli(["worker", "--storage", "postgresql://postgres@127.0.0.1:1/test",
                                    "--study", "s"], capsys), "cannot reach storage")
    journal = f"journal:///{tmp_path / 'study.log'}"
    assert_one_clear_line(*run_cli(["worker", "--storage", journal, "--study", "nope"], capsys),
                          "no study 'nope' in the storage")
