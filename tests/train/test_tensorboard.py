"""`--tensorboard DIR`: the event files hold log.jsonl's numbers, one TensorBoard run per model.

Read back with TensorBoard's own reader (`event_accumulator`), so this needs the tensorboard package
(`pip install "hyperprune[tensorboard]"`); the one-line message without it is tested either way.
"""

from __future__ import annotations

import sys

import pytest
import yaml

from hyperprune.cli import main
from hyperprune.run_files import read_log
from hyperprune.train.tensorboard import TensorBoardMirror, scalars, search_run_name
from tests.search.conftest import tiny_search_raw


def read_runs(log_dir) -> dict[str, dict[str, dict[int, float]]]:
    """Every run under `log_dir` -> tag -> step -> value, as TensorBoard reads them."""
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    runs = {}
    for folder in sorted(p for p in log_dir.iterdir() if p.is_dir()):
        acc = event_accumulator.EventAccumulator(str(folder))
        acc.Reload()
        runs[folder.name] = {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}
    return runs


def expected_runs(entries, run_name) -> dict[str, dict[str, dict[int, float]]]:
    runs: dict = {}
    for entry in entries:
        for tag, value in scalars(entry).items():
            runs.setdefault(run_name(entry), {}).setdefault(tag, {})[entry["epoch"]] = value
    return runs


def assert_same(read, expected):
    assert read.keys() == expected.keys()
    for run, tags in expected.items():
        assert read[run].keys() == tags.keys(), run
        for tag, points in tags.items():
            # event files store float32
            assert read[run][tag] == pytest.approx(points, rel=1e-6), (run, tag)


def test_scalars_leave_out_ids_flags_and_nulls():
    entry = {"model": "candidate", "candidate": 3, "epoch": 2, "valid_ppl": 120.5, "score": None,
             "status": "finalist", "averaged": False, "lr": 2, "tokens_per_s": 1500.0}
    assert scalars(entry) == {"valid_ppl": 120.5, "lr": 2.0, "tokens_per_s": 1500.0}
    assert search_run_name(entry) == "candidate-0003"
    assert search_run_name({**entry, "model": "dense", "candidate": None}) == "dense"


class FakeWriter:
    made: list["FakeWriter"] = []

    def __init__(self, log_dir):
        self.log_dir, self.points, self.flushes, self.closed = log_dir, [], 0, False
        FakeWriter.made.append(self)

    def add_scalar(self, tag, value, step):
        self.points.append((tag, value, step))

    def flush(self):
        self.flushes += 1

    def close(self):
        self.closed = True


def test_each_value_is_written_once_and_a_late_value_when_it_appears(tmp_path):
    FakeWriter.made = []
    first = [{"candidate": 0, "epoch": 1, "valid_ppl": 300.0, "score": None}]
    later = [{"candidate": 0, "epoch": 1, "valid_ppl": 300.0, "score": 0.25},
             {"candidate": 1, "epoch": 1, "valid_ppl": 310.0, "score": 0.5}]
    with TensorBoardMirror(tmp_path / "tb", search_run_name, writer_class=FakeWriter) as mirror:
        assert mirror.update(first) == 1
        assert mirror.update(later) == 3            # the log re-read whole: only the new values
        assert mirror.update(later) == 0
    by_dir = {w.log_dir: w for w in FakeWriter.made}
    assert by_dir[str(tmp_path / "tb" / "candidate-0000")].points == [("valid_ppl", 300.0, 1), ("score", 0.25, 1)]
    assert by_dir[str(tmp_path / "tb" / "candidate-0001")].points == [("valid_ppl", 310.0, 1), ("score", 0.5, 1)]
    assert all(w.closed for w in FakeWriter.made)


def test_without_tensorboard_the_option_is_one_line(tiny_corpus_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)      # import fails as when missing
    train_raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "run")
    del train_raw["search"], train_raw["lyapunov"]
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(train_raw))
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(tiny_search_raw(tiny_corpus_dir, tmp_path / "s")))
    for command in (["train", str(tmp_path / "train.yaml"), "train.epochs=1"],
                    ["train", str(tmp_path / "train.yaml"), "--dry-run"],
                    ["search", str(tmp_path / "search.yaml")],
                    ["search", str(tmp_path / "search.yaml"), "--dry-run"]):
        assert main([*command, "--tensorboard", str(tmp_path / "tb")]) == 2
        err = capsys.readouterr().err.strip()
        assert err == ('hyperprune: error: --tensorboard needs the tensorboard package, which is not installed; '
                       'install it with: pip install "hyperprune[tensorboard]"')
    assert not (tmp_path / "run" / "log.jsonl").exists()           # said before any training
    assert not (tmp_path / "s" / "results.json").exists()


def test_train_writes_its_log_as_one_run_and_a_resume_does_not_repeat_epochs(tiny_corpus_dir, tmp_path, capsys):
    pytest.importorskip("tensorboard")
    raw = tiny_search_raw(tiny_corpus_dir, tmp_path / "quick")
    del raw["search"], raw["lyapunov"]
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(raw))
    tb = tmp_path / "tb"
    assert main(["train", str(config), "train.epochs=1", "--tensorboard", str(tb)]) == 0
    assert main(["train", str(config), "train.epochs=2", "--tensorboard", str(tb)]) == 0      # resumed
    log = read_log(tmp_path / "quick")
    assert [e["epoch"] for e in log] == [1, 2]
    read = read_runs(tb)
    assert_same(read, expected_runs(log, lambda entry: "quick"))
    assert {"train_loss", "valid_ppl", "lr", "wall_s", "tokens_per_s"} <= read["quick"].keys()
    assert len(list((tb / "quick").glob("events.out.tfevents.*"))) == 1


def test_tensorboard_dir_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "tb").write_text("")
    from hyperprune.errors import UserError
    with pytest.raises(UserError, match="is a file; give a folder"):
        TensorBoardMirror(tmp_path / "tb", search_run_name, writer_class=FakeWriter)
