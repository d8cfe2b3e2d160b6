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
    ("search.keep=1.5", "search.keep = 1.5 is out of range; allowed: "),
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
    # issue 21: a setting in the wrong section is named with its right place
    ("model.sparsity=0.5", "unknown config key 'model.sparsity': it is a setting of another section; it belongs "
                           "at sparse.sparsity (e.g. sparse.sparsity=0.5)"),
    ("train.seed=3", "unknown config key 'train.seed': it is a setting of another section; it belongs at seed or "
                     "lyapunov.seed (e.g. seed=3)"),
    ("sparse.lr=2", "it belongs at train.lr (e.g. train.lr=2)"),
    ("lyapunov.n_candidates=4", "it belongs at search.n_candidates (e.g. search.n_candidates=4)"),
    ("epochs=3", "unknown config key 'epochs': it is a setting of another section; it belongs at train.epochs "
                 "(e.g. train.epochs=3)"),
    # the search's schedule is not searched, and more finalists than candidates is refused, not clamped
    ("search.space={train.epochs: [2, 3]}", "search.space key 'train.epochs' cannot be searched: the search "
                                            "trains every candidate to its budget"),
    ("search.finalists=10", "search.finalists = 10 is more than search.n_candidates = 6; allowed: 1 to 6 "
                            "(6: no rounds)"),
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
    assert_one_clear_line(*run_cli(["search", config], capsys), f"is inside '{blocker}', which is a file")
    assert blocker.read_text() == "not a folder"


def test_worker_on_unreachable_storage_and_unknown_study(tmp_path, capsys):
    assert_one_clear_line(*run_cli(["worker", "--storage", "postgresql://postgres@127.0.0.1:1/test",
                                    "--study", "s"], capsys), "cannot reach storage")
    journal = f"journal:///{tmp_path / 'study.log'}"
    assert_one_clear_line(*run_cli(["worker", "--storage", journal, "--study", "nope"], capsys),
                          "no study 'nope' in the storage")


# -- train and its run directory ---------------------------------------------------------------

TRAIN_RAW = {
    "model": {"preset": "lstm-tiny", "hidden_size": 16, "init_range": 0.3},
    "train": {"epochs": 1, "batch_size": 4, "eval_batch_size": 4, "bptt": 8, "lr": 2.0, "decay_after": None},
    "device": "cpu",
}


def train_yaml(tmp_path: Path, corpus: Path, run_dir: Path, **sections) -> str:
    raw = {"data": {"name": "custom", "path": str(corpus)}, **TRAIN_RAW, "run_dir": str(run_dir)}
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory, tiny_corpus_dir) -> Path:
    """A run directory after one epoch of `hyperprune train` (copied by each test that uses it)."""
    base = tmp_path_factory.mktemp("trained")
    assert main(["train", train_yaml(base, tiny_corpus_dir, base / "run")]) == 0
    return base / "run"


@pytest.fixture
def trained(trained_once, tmp_path) -> Path:
    run = tmp_path / "trained"
    shutil.copytree(trained_once, run)
    return run


@pytest.mark.parametrize("override, expected", [
    ("train.lr=1.0", "holds a run trained with other settings (train.lr 2.0 -> 1.0); resume it with the same "
                     "config (only train.epochs, device, data.data_dir, run_dir may change)"),
    ("model.hidden_size=24", "model.hidden_size 16 -> 24"),
    ("seed=5", "(seed 0 -> 5)"),
])
def test_resuming_with_changed_settings_is_refused(override, expected, trained, tiny_corpus_dir, tmp_path,
                                                   capsys):
    config = train_yaml(tmp_path, tiny_corpus_dir, trained)
    capsys.readouterr()
    before = snapshot(trained)
    assert_one_clear_line(*run_cli(["train", config, override, "train.epochs=2"], capsys), expected)
    assert snapshot(trained) == before          # config.yaml was not rewritten, nothing retrained


def test_resuming_on_other_data_is_refused(trained, tiny_corpus_dir, tmp_path, capsys):
    other = tmp_path / "other-corpus"
    shutil.copytree(tiny_corpus_dir, other)
    before = snapshot(trained)
    assert_one_clear_line(*run_cli(["train", train_yaml(tmp_path, other, trained)], capsys),
                          f"(data.path '{tiny_corpus_dir}' -> '{other}')")
    assert snapshot(trained) == before


def test_second_process_on_a_run_directory_is_refused(trained, tiny_corpus_dir, tmp_path, capsys):
    """Another real process holds the run directory's lock (the one train and search take)."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from hyperprune.files import run_dir_lock; "
                               f"lock = run_dir_lock({str(trained)!r}, 'train').acquire(); "
                               "print('locked', flush=True); sys.stdin.read()"],   # holds until killed
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = snapshot(trained)
        config = train_yaml(tmp_path, tiny_corpus_dir, trained)
        for command in (["train", config, "train.epochs=2"],
                        ["search", write(tmp_path, tiny_search_raw(tiny_corpus_dir, trained))]):
            assert_one_clear_line(*run_cli(command, capsys),
                                  f"another hyperprune process is writing to run directory '{trained}'")
        assert snapshot(trained) == before
    finally:
        holder.kill()
        holder.wait()
    assert main(["train", config, "train.epochs=2"]) == 0     # the kernel dropped the dead holder's lock


def test_every_checkpoint_corrupt_stops_instead_of_retraining(trained, tiny_corpus_dir, tmp_path, capsys):
    pt = trained / "checkpoints" / "epoch-0001.pt"
    pt.write_bytes(pt.read_bytes()[:100])
    before = snapshot(trained)
    assert_one_clear_line(*run_cli(["train", train_yaml(tmp_path, tiny_corpus_dir, trained)], capsys),
                          f"every checkpoint in '{trained / 'checkpoints'}' is corrupt (epoch-0001.pt); "
                          f"nothing was overwritten")
    assert snapshot(trained) == before


def test_evaluate_of_a_corrupt_checkpoint(trained, capsys):
    pt = trained / "checkpoints" / "epoch-0001.pt"
    pt.write_bytes(pt.read_bytes()[:-10] + bytes(10))
    before = snapshot(trained)
    assert_one_clear_line(*run_cli(["evaluate", str(pt)], capsys),
                          f"checkpoint '{pt}' is corrupt or incomplete: its sha256 does not match epoch-0001.sha256")
    assert snapshot(trained) == before


def test_evaluate_of_a_yaml_file(trained, capsys):
    config = trained / "config.yaml"
    assert_one_clear_line(*run_cli(["evaluate", str(config)], capsys),
                          f"'{config}' is not a hyperprune checkpoint (it does not load")


def test_checkpoint_whose_sizes_do_not_match_its_config(trained, capsys):
    import hashlib as sha
    import torch

    pt = trained / "checkpoints" / "epoch-0001.pt"
    payload = torch.load(pt, weights_only=False)
    payload["config"]["model"]["hidden_size"] = 24          # weights are 16 wide
    torch.save(payload, pt)
    pt.with_suffix(".sha256").write_text(sha.sha256(pt.read_bytes()).hexdigest() + "\n")
    before = snapshot(trained)
    assert_one_clear_line(*run_cli(["evaluate", str(trained)], capsys),
                          f"checkpoint '{trained}' does not fit the model its config describes: size mismatch for")
    assert snapshot(trained) == before


def test_evaluate_of_a_search_directory_points_to_its_winner(precious, capsys):
    assert_one_clear_line(*run_cli(["evaluate", str(precious)], capsys),
                          f"'{precious}' is a search's run directory, which holds many models; its winner is in "
                          f"'{precious / 'winner'}' (it appears when the search has finished): "
                          f"hyperprune evaluate {precious / 'winner'}")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_learning_rate(value, tiny_corpus_dir, tmp_path, capsys):
    config = train_yaml(tmp_path, tiny_corpus_dir, tmp_path / "run")
    assert_one_clear_line(*run_cli(["train", config, f"train.lr={value}"], capsys),
                          f"train.lr = {float(value)} is not a finite number")
    assert not (tmp_path / "run").exists()


def test_diverging_run_is_one_line(tiny_corpus_dir, tmp_path, capsys):
    config = train_yaml(tmp_path, tiny_corpus_dir, tmp_path / "run", train={"lr": 1e36, "clip": 0.0})
    code, err = run_cli(["train", config], capsys)
    assert_one_clear_line(code, err, "hyperprune: error: training diverged: training loss became")
    assert err.endswith("at epoch 1, step 50; lower train.lr (now 1e+36) or set train.clip; nothing was saved"), err


# -- config files --------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["train", "search"])
def test_duplicate_section(command, tiny_corpus_dir, tmp_path, precious, capsys):
    path = tmp_path / "twice.yaml"
    body = yaml.safe_dump(tiny_search_raw(tiny_corpus_dir, precious) if command == "search" else
                          {**TRAIN_RAW, "data": {"name": "custom", "path": str(tiny_corpus_dir)}})
    lines = body.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("train:")) + 1
    path.write_text(body + "train:\n  epochs: 7\n")
    before = snapshot(precious)
    assert_one_clear_line(*run_cli([command, str(path)], capsys),
                          f"config file '{path}': key 'train' appears twice (lines {first} and {len(lines) + 1})")
    assert snapshot(precious) == before


def test_duplicate_key_inside_a_section(tmp_path, capsys):
    path = tmp_path / "twice.yaml"
    path.write_text("train:\n  lr: 1.0\n  epochs: 2\n  lr: 20\n")
    assert_one_clear_line(*run_cli(["train", str(path)], capsys), "key 'lr' appears twice (lines 2 and 4)")


@pytest.mark.parametrize("command", ["train", "search"])
def test_empty_config(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                 # where the default run_dir (runs/...) would appear
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    assert_one_clear_line(*run_cli([command, str(path)], capsys), f"config file '{path}' is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.yaml"]


@pytest.mark.parametrize("problem, expected", [
    ("absent", "does not exist (dataset 'ptb')"),
    ("no-corpus", "holds no dataset 'ptb' (no train.txt, valid.txt, test.txt in"),
])
def test_explicit_data_dir_without_the_corpus(problem, expected, tmp_path, capsys, data_dir, monkeypatch):
    monkeypatch.setenv("HYPERPRUNE_DATA", str(data_dir))      # PTB is there: it must not be used
    given = tmp_path / "given"
    if problem == "no-corpus":
        (given / "wikitext-2").mkdir(parents=True)
    config = tmp_path / "ptb.yaml"
    config.write_text(yaml.safe_dump({**TRAIN_RAW, "data": {"name": "ptb"}, "run_dir": str(tmp_path / "run")}))
    assert_one_clear_line(*run_cli(["train", str(config), "--data-dir", str(given)], capsys),
                          f"--data-dir '{given}' {expected}")
    assert list((tmp_path / "run").glob("**/*")) == []        # no file written


# -- spectrum output ----------------------------------------------------------------------------

def test_spectrum_json_into_a_missing_folder(trained, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = blocker / "ls.json"
    assert_one_clear_line(*run_cli(["spectrum", str(trained), "--json", str(target), "--device", "cpu"], capsys),
                          f"--json '{target}': folder '{blocker}' does not exist")
    assert blocker.read_text() == "x"


def test_spectrum_into_a_closed_pipe(trained, monkeypatch, capsys):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    capsys.readouterr()
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    code = main(["spectrum", str(trained), "--device", "cpu"])
    monkeypatch.undo()
    assert_one_clear_line(code, capsys.readouterr().err.strip(), "the output pipe was closed")


def test_options_may_stand_among_the_overrides(tiny_corpus_dir, tmp_path, precious, capsys):
    # The override after --device is read (and refused for its value), not rejected as unknown.
    config = write(tmp_path, tiny_search_raw(tiny_corpus_dir, precious))
    assert_one_clear_line(*run_cli(["search", config, "--device", "cpu", "search.keep=0"], capsys),
                          "search.keep = 0.0 is out of range")


@pytest.mark.parametrize("dry_run", [[], ["--dry-run", "--no-timing"]])
def test_a_run_directory_that_is_a_file(dry_run, tiny_corpus_dir, tmp_path, capsys):
    file = tmp_path / "a-file"
    file.write_text("")
    config = write(tmp_path, tiny_search_raw(tiny_corpus_dir, file))
    assert_one_clear_line(*run_cli(["search", config, *dry_run], capsys),
                          f"run directory '{file}' is a file; choose a folder with run_dir=PATH")
    assert_one_clear_line(*run_cli(["search", config, *dry_run, f"run_dir={file}/run"], capsys),
                          f"run directory '{file}/run' is inside '{file}', which is a file")
    from tests.test_cli import write_config
    train = write_config(tmp_path, tiny_corpus_dir, run_dir=str(file))
    assert_one_clear_line(*run_cli(["train", train, *dry_run[:1]], capsys), f"run directory '{file}' is a file")


@pytest.mark.parametrize("value", ["-5", "0", "150", "ten"])
def test_progress_every_must_be_a_share_of_an_epoch(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(tmp_path / "c.yaml"), "--progress-every", value])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"hyperprune train: error: argument --progress-every: '{value}' is not a percentage of an epoch; "
        f"allowed: more than 0, at most 100")
