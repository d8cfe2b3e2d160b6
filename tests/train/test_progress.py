"""Progress inside an epoch, the per-epoch line, and RUN_DIR/log.jsonl."""

from __future__ import annotations

import json
import math
import re

from hyperprune.train import Trainer
from hyperprune.train.progress import EpochProgress, TrainingConsole, clock, seconds_left

from tests.train.test_trainer import tiny_config

LINE = re.compile(r"^epoch +(\d+) \| +(\d+)% \| batch ([\d,]+)/~([\d,]+) \| loss [\d.]+ \| ppl +[\d.]+ \| "
                  r" *\d+ tok/s \| ETA \d+:\d\d:\d\d$")


def test_a_non_terminal_gets_exactly_ten_plain_lines_per_epoch(tiny_corpus_dir, tmp_path, capsys):
    trainer = Trainer(tiny_config(tiny_corpus_dir, tmp_path / "run", train={"epochs": 2}), progress="lines")
    trainer.train()
    out = capsys.readouterr().out.splitlines()
    progress = [line for line in out if "%" in line]
    assert len(progress) == 20                                  # 10 per epoch, 2 epochs
    assert all(LINE.match(line) for line in progress), progress[0]
    percents = [int(LINE.match(line).group(2)) for line in progress]
    assert percents[:10] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert "\r" not in "".join(out) and "it/s" not in "".join(out)   # no bar noise in a log
    epoch_lines = [line for line in out if "valid ppl" in line]
    assert len(epoch_lines) == 2 and epoch_lines[0].startswith("epoch   1 | lr 1 | train ppl")


def test_milestones_follow_the_data_fraction_and_every_is_configurable(capsys):
    progress = EpochProgress(1, 7, mode="lines", every=0.25)
    for fraction in (0.1, 0.2, 0.5, 0.55, 0.74, 0.75, 1.0):
        progress.update(fraction, 100, lambda: 2.0)
    lines = capsys.readouterr().out.splitlines()
    assert [int(LINE.match(line).group(2)) for line in lines] == [50, 75, 100]   # 25% was passed at 0.5
    assert progress.lines == 4


def test_quiet_off_and_auto_modes(capsys, monkeypatch):
    assert TrainingConsole(progress=None, verbose=False).mode == "off"     # pytest's stderr is no TTY
    assert TrainingConsole(progress=None, verbose=True).mode == "lines"
    assert TrainingConsole(progress=True).mode == "bar"
    progress = EpochProgress(1, 4, mode="off")
    progress.update(1.0, 10, lambda: 1 / 0)                                # never reads the loss
    assert capsys.readouterr().out == ""
    assert clock(3723.9) == "1:02:03"


def test_log_jsonl_has_one_line_per_epoch_with_the_right_keys_even_after_resume(tiny_corpus_dir, tmp_path):
    cfg = tiny_config(tiny_corpus_dir, tmp_path / "run", train={"epochs": 3})
    Trainer(cfg, verbose=False).train(until_epoch=2)
    trainer = Trainer(cfg, verbose=False)                                  # resumes at epoch 2
    trainer.train()
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert len(lines) == 3
    entries = [json.loads(line) for line in lines]
    assert [e["epoch"] for e in entries] == [1, 2, 3]
    assert set(entries[0]) == {"epoch", "train_loss", "train_ppl", "valid_loss", "valid_ppl", "lr", "averaged",
                               "wall_s", "tokens_per_s", "mask_update_s"}
    for entry, record in zip(entries, trainer.history):
        assert entry["valid_loss"] == record.valid_loss
        assert math.isclose(entry["valid_ppl"], math.exp(record.valid_loss))
        assert math.isclose(entry["train_ppl"], math.exp(record.train_loss))
    assert [e["lr"] for e in entries] == [1.0, 0.5, 0.25]                  # decay_after 1, lr_decay 0.5


def test_a_terminal_gets_a_bar_with_loss_tokens_per_second_and_eta(capsys):
    progress = EpochProgress(2, 40, mode="bar")
    for step in range(1, 41):
        progress.update(step / 40, 100 * step, lambda: 2.0)
    progress.close()
    captured = capsys.readouterr()
    assert captured.out == ""                                   # the bar is on stderr only
    err = captured.err
    assert "epoch 2:" in err and "40/40" in err
    assert "loss=2.000" in err and "ppl=7.4" in err and "tok_s=" in err
    assert "<" in err                                           # tqdm's elapsed<remaining (the ETA)


def test_seconds_left_is_the_work_left_at_the_pace_so_far():
    assert seconds_left(done=3, planned=10, spent_s=60.0) == 140.0      # 20 s a unit, 7 units left
    assert seconds_left(done=0.25, planned=1.0, spent_s=30.0) == 90.0   # a quarter of an epoch in 30 s
    assert seconds_left(done=12, planned=10, spent_s=60.0) == 0.0       # past the plan: nothing left
    assert seconds_left(done=0, planned=10, spent_s=5.0) is None        # no pace yet
