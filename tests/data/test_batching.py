"""batchify / get_batch on a tiny hand-made stream (pytorch/examples word_language_model layout)."""

from __future__ import annotations

import pytest
import torch

from hyperprune.data import batchify, get_batch
from hyperprune.errors import UserError


def test_batchify_columns_are_contiguous_chunks():
    source = batchify(torch.arange(10), 3)   # 10 % 3 = 1 token dropped
    assert source.shape == (3, 3)
    assert source.tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert source.is_contiguous() and source.dtype == torch.long


def test_batchify_exact_fit_and_single_column():
    assert batchify(torch.arange(8), 4).tolist() == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert batchify(torch.arange(4), 1).tolist() == [[0], [1], [2], [3]]


def test_get_batch_shift_and_short_last_batch():
    source = batchify(torch.arange(20), 2)   # (10, 2): columns 0..9 and 10..19
    x, y = get_batch(source, 0, 4)
    assert x.shape == y.shape == (4, 2)
    assert x[:, 0].tolist() == [0, 1, 2, 3] and y[:, 0].tolist() == [1, 2, 3, 4]
    assert x[:, 1].tolist() == [10, 11, 12, 13] and y[:, 1].tolist() == [11, 12, 13, 14]
    x, y = get_batch(source, 8, 4)            # only one row left that has a target
    assert x.shape == y.shape == (1, 2)
    assert x.tolist() == [[8, 18]] and y.tolist() == [[9, 19]]


def test_one_pass_covers_every_target_once():
    source = batchify(torch.arange(23), 2)   # (11, 2)
    targets = [get_batch(source, i, 3)[1] for i in range(0, source.size(0) - 1, 3)]
    assert [t.size(0) for t in targets] == [3, 3, 3, 1]
    assert torch.cat(targets)[:, 0].tolist() == list(range(1, 11))


def test_batch_size_errors():
    with pytest.raises(UserError, match="batch size 5 does not fit 4 tokens; allowed: 1 to 4"):
        batchify(torch.arange(4), 5)
    with pytest.raises(UserError, match="batch size 0"):
        batchify(torch.arange(4), 0)
    with pytest.raises(ValueError):
        get_batch(batchify(torch.arange(4), 1), 3, 2)   # row 3 is the last: nothing to predict
