"""Round logic of LSH on synthetic scores: how many survive, ties, failures, F larger than the pool."""

from __future__ import annotations

import re

import pytest

from hyperprune.errors import UserError
from hyperprune.search.rounds import (FAILED, HALF_PLUS_ONE, PENDING, advance, check_keep, n_kept, planned_sizes,
                                      rank, select)


@pytest.mark.parametrize("n, keep, finalists, expected", [
    (10, 0.5, 2, 5),
    (9, 0.5, 2, 5),        # ceil(4.5)
    (7, 0.3, 2, 3),        # ceil(2.1)
    (10, 0.3, 2, 3),       # 10 * 0.3 = 3.0000000000000004 must not round up to 4
    (5, 0.2, 3, 3),        # never fewer than F
    (4, 0.99, 2, 3),       # ceil(3.96) = 4 would not progress: at least one goes
    (2, 0.5, 2, 2),        # already at F
    (1, 0.5, 3, 1),        # F larger than the pool
    (0, 0.5, 2, 0),
])
def test_n_kept(n, keep, finalists, expected):
    assert n_kept(n, keep, finalists) == expected


def test_planned_sizes_shrink_to_finalists():
    assert planned_sizes(20, 0.5, 2) == [20, 10, 5, 3, 2]
    assert planned_sizes(6, 0.5, 2) == [6, 3, 2]
    assert planned_sizes(2, 0.5, 4) == [2]


def test_ties_are_broken_by_id_whatever_the_order_scores_arrive_in():
    scores = {7: 1.0, 3: 1.0, 5: 0.5, 1: 2.0}
    assert rank(scores) == [5, 3, 7, 1]
    reordered = dict(reversed(list(scores.items())))
    assert rank(reordered) == rank(scores)
    assert select(scores, 0.5, 1) == [5, 3]


def _table(table):
    """score_at from {(candidate, epoch): score}; missing -> PENDING."""
    return lambda c, e: table.get((c, e), PENDING)


def test_rounds_run_to_the_finalists_with_rescoring_at_each_epoch():
    first = {0: 5.0, 1: 4.0, 2: 3.0, 3: 2.0, 4: 1.0, 5: 0.5, 6: 6.0}
    later = {(5, 2): 3.0, (4, 2): 2.0, (3, 2): 1.0, (2, 2): 0.1}     # round 1 reverses the order
    progress = advance(first, _table(later), e0=1, ei=1, final=10, keep=0.5, finalists=2)
    assert [r.epoch for r in progress.rounds] == [1, 2]
    assert progress.rounds[0].kept == [5, 4, 3, 2]                    # ceil(7 * 0.5) = 4
    assert progress.rounds[0].scores == first
    assert progress.rounds[1].candidates == [2, 3, 4, 5]
    assert progress.rounds[1].kept == [2, 3]                          # ranked by the epoch-2 scores
    assert progress.finalists == [2, 3]
    assert progress.pending == []


def test_three_rounds_with_a_gentle_keep():
    first = {c: float(c) for c in range(6)}
    table = {(c, 3): float(-c) for c in range(6)} | {(c, 5): float(c) for c in range(6)}
    progress = advance(first, _table(table), e0=1, ei=2, final=9, keep=0.7, finalists=2)
    assert [(r.epoch, r.kept) for r in progress.rounds] == [(1, [0, 1, 2, 3, 4]), (3, [4, 3, 2, 1]),
                                                             (5, [1, 2, 3]), ]
    assert progress.pending == [(1, 7), (2, 7), (3, 7)]


def test_rounds_stop_and_report_what_is_pending():
    first = {c: float(c) for c in range(6)}
    progress = advance(first, _table({(0, 3): 1.0}), e0=1, ei=2, final=10, keep=0.5, finalists=2)
    assert len(progress.rounds) == 1 and progress.rounds[0].kept == [0, 1, 2]
    assert progress.finalists is None
    assert progress.pending == [(1, 3), (2, 3)]


def test_failed_candidates_drop_out_and_may_leave_fewer_than_f():
    first = {c: float(c) for c in range(4)}
    table = {(0, 2): FAILED, (1, 2): 1.0, (2, 2): FAILED}
    progress = advance(first, _table(table), e0=1, ei=1, final=5, keep=0.75, finalists=2)
    assert progress.rounds[0].kept == [0, 1, 2]
    assert progress.failed == {0: 2, 2: 2}
    assert progress.finalists == [1]


def test_f_larger_than_the_pool_makes_everyone_a_finalist_without_rounds():
    progress = advance({3: 1.0, 1: 2.0}, _table({}), e0=1, ei=1, final=4, keep=0.5, finalists=5)
    assert progress.rounds == [] and progress.finalists == [3, 1]


def test_epochs_stop_at_the_budget_and_reuse_scores_there():
    first = {c: float(c) for c in range(8)}
    table = {(c, 2): float(-c) for c in range(8)}
    progress = advance(first, _table(table), e0=1, ei=5, final=2, keep=0.5, finalists=1)
    # round 0 at epoch 1 keeps 4, they are scored at the budget (2); later rounds re-use those scores
    assert [r.epoch for r in progress.rounds] == [1, 2, 2]
    assert progress.rounds[1].kept == [3, 2]
    assert progress.finalists == [3]


def test_empty_pool_has_no_finalists():
    progress = advance({}, _table({}), e0=1, ei=1, final=3, keep=0.5, finalists=2)
    assert progress.finalists == [] and progress.rounds == []


# -- the paper's keep rule: floor(n / 2) + 1 ----------------------------------------------------

def _paper_loop(n: int) -> list[int]:
    """main_pruning_competition.py:45-66 transcribed: while more than 2 are left, walk the sorted
    candidates with i = 0, 1, ... and stop at the first i > n / 2 (true division)."""
    sizes = [n]
    while sizes[-1] > 2:
        m = sizes[-1]
        kept = 0
        for i in range(m):
            if i > m / 2:
                break
            kept += 1
        sizes.append(kept)
    return sizes


@pytest.mark.parametrize("n, expected", [(26, 14), (14, 8), (8, 5), (5, 3), (3, 2), (4, 3), (2, 2), (1, 1)])
def test_half_plus_one_keeps_floor_half_plus_one(n, expected):
    assert n_kept(n, HALF_PLUS_ONE, 2) == expected


def test_half_plus_one_sizes_match_the_papers_loop():
    assert planned_sizes(26, HALF_PLUS_ONE, 2) == [26, 14, 8, 5, 3, 2]
    for n in range(1, 60):
        # The paper stops at exactly 2 (its finalists): floor(n/2)+1 >= 2 for n >= 3, so never fewer.
        assert planned_sizes(n, HALF_PLUS_ONE, 2) == _paper_loop(n), n


def test_half_plus_one_rounds_on_scores():
    first = {c: float(c) for c in range(26)}          # candidate c scores c: the lowest ids survive
    epochs = {}

    def score_at(c, e):
        epochs.setdefault(e, set()).add(c)
        return float(c)
    progress = advance(first, score_at, e0=3, ei=3, final=100, keep=HALF_PLUS_ONE, finalists=2)
    assert [len(r.candidates) for r in progress.rounds] == [26, 14, 8, 5, 3]
    assert [r.epoch for r in progress.rounds] == [3, 6, 9, 12, 15]
    assert [len(r.kept) for r in progress.rounds] == [14, 8, 5, 3, 2]
    assert progress.finalists == [0, 1]
    # survivors are scored again at e0 + r * ei, never after the last round (the paper does score
    # its 2 finalists once more at 18, a measurement that decides nothing)
    assert sorted(epochs) == [6, 9, 12, 15]
    assert select(first, "half+1", 2) == list(range(14))


@pytest.mark.parametrize("value, message", [
    ("half", "search.keep = 'half' is not a keep rule; allowed: half+1"),
    (1.0, "search.keep = 1.0 is out of range"),
    (0.0, "search.keep = 0.0 is out of range"),
    (True, "search.keep = True is out of range"),
])
def test_check_keep_rejects_with_one_line(value, message):
    with pytest.raises(UserError, match=re.escape(message)):
        check_keep(value)


def test_check_keep_accepts_the_rule_and_fractions():
    assert check_keep("half+1") == HALF_PLUS_ONE
    assert check_keep(" half+1 ") == HALF_PLUS_ONE
    assert check_keep("0.25") == 0.25
    assert check_keep(0.5) == 0.5

