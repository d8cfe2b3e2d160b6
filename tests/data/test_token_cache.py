"""A second load of the same text reads ids from the token cache instead of tokenising."""

from __future__ import annotations

import pytest

from hyperprune.data import DataConfig, load_corpus
from hyperprune.data import corpus as corpus_module

TEXTS = {"train.txt": "x y z\ny x\n", "valid.txt": "z\n", "test.txt": "x y\n"}


@pytest.fixture
def count_tokenising(monkeypatch):
    calls = []
    real = corpus_module._tokenize_splits

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(corpus_module, "_tokenize_splits", counting)
    return calls


def test_second_load_is_a_cache_hit(make_folder, count_tokenising, isolated_cache):
    cfg = DataConfig(name="custom", path=str(make_folder("c", TEXTS)))
    first = load_corpus(cfg)
    second = load_corpus(cfg)
    assert len(count_tokenising) == 1
    assert second.vocab.itos == first.vocab.itos
    for split in ("train", "valid", "test"):
        assert getattr(second, split).tolist() == getattr(first, split).tolist()
    entries = list((isolated_cache / "tokens").iterdir())
    assert len(entries) == 1 and entries[0].name.startswith("custom-word-") and entries[0].suffix == ".pt"


def test_truncation_applies_to_cached_ids(make_folder, count_tokenising):
    folder = str(make_folder("c", TEXTS))
    load_corpus(DataConfig(name="custom", path=folder))
    short = load_corpus(DataConfig(name="custom", path=folder, train_tokens=2))
    assert len(count_tokenising) == 1 and short.train.tolist() == [0, 1]


def test_changed_text_or_level_is_a_new_entry(make_folder, count_tokenising, isolated_cache):
    folder = make_folder("c", TEXTS)
    load_corpus(DataConfig(name="custom", path=str(folder)))
    load_corpus(DataConfig(name="custom", path=str(folder), level="char"))
    (folder / "valid.txt").write_text("y\n", encoding="utf-8")
    changed = load_corpus(DataConfig(name="custom", path=str(folder)))
    assert len(count_tokenising) == 3
    assert changed.valid.tolist() == [1, 3]
    assert len(list((isolated_cache / "tokens").iterdir())) == 3


def test_unreadable_entry_is_rewritten(make_folder, count_tokenising, isolated_cache):
    cfg = DataConfig(name="custom", path=str(make_folder("c", TEXTS)))
    load_corpus(cfg)
    (entry,) = (isolated_cache / "tokens").iterdir()
    entry.write_bytes(b"not a torch file")
    assert load_corpus(cfg).train.tolist() == [0, 1, 2, 3, 1, 0, 3]
    assert len(count_tokenising) == 2
    load_corpus(cfg)
    assert len(count_tokenising) == 2


def test_named_corpus_cache_hit(data_dir, count_tokenising):
    cfg = DataConfig(name="tinyshakespeare", data_dir=str(data_dir))
    first = load_corpus(cfg)
    second = load_corpus(cfg)
    assert len(count_tokenising) == 1
    assert second.train.equal(first.train) and second.vocab.itos == first.vocab.itos


def test_unwritable_cache_costs_only_speed(make_folder, monkeypatch, tmp_path, count_tokenising):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))   # the cache folder cannot be created
    cfg = DataConfig(name="custom", path=str(make_folder("c", TEXTS)))
    assert load_corpus(cfg).valid.tolist() == load_corpus(cfg).valid.tolist() == [2, 3]
    assert len(count_tokenising) == 2
