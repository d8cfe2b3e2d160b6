"""Fixtures shared by every test package: the shared corpora and a tiny generated corpus."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import random
from pathlib import Path

# Test models are tiny: one thread each is fastest, and subprocess workers must not oversubscribe
# the cores (OpenMP threads spinning against each other slow a 2-core machine tenfold). Set before
# torch is imported, since OpenMP reads them when it loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """$HYPERPRUNE_DATA or ../shared/data beside the repository, when it holds PTB."""
    for candidate in (os.environ.get("HYPERPRUNE_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "ptb" / "train.txt").is_file():
            return Path(candidate)
    return None


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Token caches and downloads go to a temporary folder, never the user's real cache."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = shared_data_dir()
    if found is None:
        pytest.skip("no corpora: set HYPERPRUNE_DATA or place them in ../shared/data")
    return found


def write_tiny_corpus(folder: Path, vocab: int = 50, lines: tuple[int, int, int] = (400, 60, 60),
                      seed: int = 0) -> Path:
    """A word-level corpus with some structure (bigram-ish) so a model can learn something."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    folder.mkdir(parents=True, exist_ok=True)
    for split, n_lines in zip(("train", "valid", "test"), lines):
        out = []
        for _ in range(n_lines):
            length = rng.randint(3, 12)
            w = rng.randrange(vocab)
            sentence = []
            for _ in range(length):
                sentence.append(words[w])
                # mostly step to a neighbour word: learnable structure
                w = (w + rng.choice([1, 1, 2, 3])) % vocab if rng.random() < 0.8 else rng.randrange(vocab)
            out.append(" " + " ".join(sentence) + " ")
        (folder / f"{split}.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory) -> Path:
    return write_tiny_corpus(tmp_path_factory.mktemp("tiny") / "corpus")



@pytest.fixture(scope="session")
def _tiny_searches(tiny_corpus_dir, tmp_path_factory):
    from hyperprune.search import run_search
    from tests.search.conftest import tiny_search
    done = {}

    def run(name: str, **sections):
        key = (name, repr(sorted(sections.items())))
        if key not in done:
            cfg = tiny_search(tiny_corpus_dir, tmp_path_factory.mktemp("tiny-search") / name, **sections)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                results = run_search(cfg)
            done[key] = cfg, results, printed.getvalue()
        cfg, results, printed = done[key]
        return copy.deepcopy(cfg), copy.deepcopy(results), printed
    return run


@pytest.fixture
def shared_tiny_search(_tiny_searches):
    """shared_tiny_search(name, **sections) -> (config, results, what it printed) of tests/search/
    conftest.py's `tiny_search_raw` with `sections`, searched once per session in a folder `name`,
    since several tests read the same search. The config and results are a copy for each test; the
    run directory is shared, so a test may add files there but must not change or remove the search's."""
    return _tiny_searches


@pytest.fixture
def tiny_search_run(shared_tiny_search):
    """The tiny search as written (lsh on the spectrum distance, 6 candidates, 3 epochs), in `run`."""
    return shared_tiny_search("run")


@pytest.fixture
def tiny_loss_search_run(shared_tiny_search):
    """The tiny search on validation loss (search.metric: loss), in `loss`."""
    return shared_tiny_search("loss", search={"metric": "loss"})
