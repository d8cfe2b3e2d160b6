"""Corpus loading: exact counts on the real corpora, custom folders, truncation, user errors."""

from __future__ import annotations

import pytest
import torch

from hyperprune.data import EOS, DataConfig, corpus_stats, load_corpus
from hyperprune.data.corpus import split_by_percent
from hyperprune.errors import UserError


# --- the named corpora, exact numbers from shared/data/SOURCES.md ----------------------------------

@pytest.mark.parametrize("name, expected", [
    ("ptb", {"train_tokens": 929_589, "valid_tokens": 73_760, "test_tokens": 82_430, "vocab_size": 10_000}),
    ("wikitext-2", {"train_tokens": 2_088_628, "valid_tokens": 217_646, "test_tokens": 245_569,
                    "vocab_size": 33_278}),
    # 1,115,394 characters cut 90/5/5 at exact character offsets.
    ("tinyshakespeare", {"train_tokens": 1_003_854, "valid_tokens": 55_769, "test_tokens": 55_771,
                         "vocab_size": 65}),
])
def test_named_corpus_counts(data_dir, name, expected):
    corpus = load_corpus(DataConfig(name=name, data_dir=str(data_dir)))
    assert corpus_stats(corpus) == expected
    assert corpus.name == name
    for ids in (corpus.train, corpus.valid, corpus.test):
        assert ids.dtype == torch.long and ids.dim() == 1
        assert 0 <= int(ids.min()) and int(ids.max()) < len(corpus.vocab)


def test_ptb_vocabulary_order_and_text(data_dir):
    corpus = load_corpus(DataConfig(name="ptb", data_dir=str(data_dir)))
    # First line of train.txt: " aer banknote berlitz calloway centrust ..."; ids by first appearance.
    assert corpus.vocab.itos[:5] == ["aer", "banknote", "berlitz", "calloway", "centrust"]
    assert corpus.train[:5].tolist() == [0, 1, 2, 3, 4]
    assert corpus.level == "word"
    assert "<unk>" in corpus.vocab and EOS in corpus.vocab
    assert corpus.vocab.stoi[corpus.vocab.itos[1234]] == 1234
    assert int((corpus.train == corpus.vocab.stoi[EOS]).sum()) == 42_068   # one <eos> per line


def test_tinyshakespeare_char_split_is_the_file(data_dir):
    corpus = load_corpus(DataConfig(name="tinyshakespeare", data_dir=str(data_dir)))
    text = (data_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    itos = corpus.vocab.itos
    assert corpus.level == "char" and "\n" in corpus.vocab
    joined = "".join(itos[i] for i in torch.cat([corpus.train, corpus.valid, corpus.test]).tolist())
    assert joined == text
    assert "".join(itos[i] for i in corpus.valid[:20].tolist()) == text[1_003_854:1_003_874]


def test_truncation(data_dir):
    corpus = load_corpus(DataConfig(name="ptb", data_dir=str(data_dir),
                                    train_tokens=1000, valid_tokens=100, test_tokens=50))
    assert corpus_stats(corpus) == {"train_tokens": 1000, "valid_tokens": 100, "test_tokens": 50,
                                    "vocab_size": 10_000}


def test_split_by_percent():
    assert split_by_percent("abcdefghijklmnopqrst") == ("abcdefghijklmnopqr", "s", "t")   # 18/1/1 of 20
    assert split_by_percent("x" * 101) == ("x" * 90, "x" * 5, "x" * 6)


# --- custom folders ---------------------------------------------------------------------------------

def test_custom_word_level(make_folder):
    folder = make_folder("mine", {
        "train.txt": "the cat sat\n\nthe dog\n",   # the empty line still gets its <eos>
        "valid.txt": "dog sat\n",
        "test.txt": "the  cat",                    # no final newline: the last line still ends in <eos>
    })
    corpus = load_corpus(DataConfig(name="custom", path=str(folder)))
    assert corpus.level == "word"
    assert corpus.vocab.itos == ["the", "cat", "sat", EOS, "dog"]
    assert corpus.train.tolist() == [0, 1, 2, 3, 3, 0, 4, 3]
    assert corpus.valid.tolist() == [4, 2, 3]
    assert corpus.test.tolist() == [0, 1, 3]
    assert corpus_stats(corpus) == {"train_tokens": 8, "valid_tokens": 3, "test_tokens": 3, "vocab_size": 5}


def test_custom_char_level(make_folder):
    folder = make_folder("mine", {"train.txt": "ab\nba\n", "valid.txt": "b\n", "test.txt": "aab"})
    corpus = load_corpus(DataConfig(name="custom", path=str(folder), level="char"))
    assert corpus.vocab.itos == ["a", "b", "\n"]
    assert corpus.train.tolist() == [0, 1, 2, 1, 0, 2]
    assert corpus.valid.tolist() == [1, 2]
    assert corpus.test.tolist() == [0, 0, 1]


def test_custom_newlines_and_bom(make_folder):
    folder = make_folder("crlf", {"train.txt": "\ufeffa b\r\nc\rd\n", "valid.txt": "a\r\n", "test.txt": "d\n"})
    corpus = load_corpus(DataConfig(name="custom", path=str(folder)))
    assert corpus.vocab.itos == ["a", "b", EOS, "c", "d"]
    assert corpus.train.tolist() == [0, 1, 2, 3, 2, 4, 2]


def test_unseen_word_maps_to_unk_when_train_has_it(make_folder):
    folder = make_folder("unk", {"train.txt": "a <unk> b\n", "valid.txt": "a zebra\n", "test.txt": "b\n"})
    corpus = load_corpus(DataConfig(name="custom", path=str(folder)))
    assert corpus.valid.tolist() == [0, 1, 3]   # zebra -> <unk>


# --- user errors: one line naming the thing and how to fix it ---------------------------------------

def _error(cfg: DataConfig) -> str:
    with pytest.raises(UserError) as info:
        load_corpus(cfg)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unseen_word_without_unk(make_folder):
    folder = make_folder("oov", {"train.txt": "a b\n", "valid.txt": "a\nb zebra\n", "test.txt": "a\n"})
    message = _error(DataConfig(name="custom", path=str(folder)))
    assert "word 'zebra'" in message
    assert str(folder / "valid.txt") in message and "line 2" in message
    assert "no '<unk>'" in message


def test_unseen_char_without_unk(make_folder):
    folder = make_folder("oovc", {"train.txt": "ab\n", "valid.txt": "a\n", "test.txt": "abc\n"})
    message = _error(DataConfig(name="custom", path=str(folder), level="char"))
    assert "character 'c'" in message and str(folder / "test.txt") in message and "line 1" in message


def test_empty_file(make_folder):
    folder = make_folder("empty", {"train.txt": "a\n", "valid.txt": "", "test.txt": "a\n"})
    message = _error(DataConfig(name="custom", path=str(folder)))
    assert message == f"file '{folder / 'valid.txt'}' is empty; it must hold UTF-8 text"


def test_binary_file_names_nul_offset(make_folder):
    folder = make_folder("bin", {"train.txt": b"ab\x00cd", "valid.txt": "a\n", "test.txt": "a\n"})
    message = _error(DataConfig(name="custom", path=str(folder)))
    assert str(folder / "train.txt") in message and "binary" in message and "byte offset 2" in message


def test_non_utf8_file_names_byte_offset(make_folder):
    folder = make_folder("latin1", {"train.txt": "a\n", "valid.txt": "caf\xe9\n".encode("latin-1"),
                                    "test.txt": "a\n"})
    message = _error(DataConfig(name="custom", path=str(folder)))
    assert str(folder / "valid.txt") in message and "not UTF-8" in message
    assert "0xe9 at byte offset 3" in message


def test_custom_needs_a_path():
    assert "data.name=custom needs data.path" in _error(DataConfig(name="custom"))


def test_custom_path_not_a_folder(tmp_path):
    message = _error(DataConfig(name="custom", path=str(tmp_path / "nowhere")))
    assert "nowhere' is not a folder" in message and "train.txt, valid.txt, test.txt" in message


def test_custom_missing_files(make_folder):
    folder = make_folder("partial", {"train.txt": "a\n"})
    message = _error(DataConfig(name="custom", path=str(folder)))
    assert "is missing valid.txt, test.txt" in message


def test_bad_level_is_rejected():
    assert "unknown data.level 'bpe'" in _error(DataConfig(name="ptb", level="bpe"))
