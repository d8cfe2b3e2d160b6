"""Corpora, their vocabularies and LM batching.

    cfg = DataConfig(name="ptb")
    corpus = load_corpus(cfg)                     # ids of train/valid/test, vocab from train
    train = batchify(corpus.train, batch_size=20)  # (N, 20)
    x, y = get_batch(train, 0, bptt=35)            # (35, 20) each, y shifted by one
"""

from hyperprune.data.batching import batchify, get_batch
from hyperprune.data.config import DataConfig
from hyperprune.data.corpus import Corpus, corpus_stats, load_corpus
from hyperprune.data.vocabulary import EOS, UNK, Vocabulary

__all__ = [
    "Corpus", "DataConfig", "EOS", "UNK", "Vocabulary",
    "batchify", "corpus_stats", "get_batch", "load_corpus",
]
