"""Successive elimination rounds of LSH, as pure functions of scores (lower is better).

Round r ranks the candidates alive at epoch E_r = min(e0 + r * ei, final) by their score, keeps
some of them, and the survivors are trained to E_{r+1} and scored again. Rounds stop when F
candidates are left: the finalists. How many are kept of n (`keep`):

    "half+1"   floor(n / 2) + 1, the released code's rule (main_pruning_competition.py:58-60 keeps
               ranks 0..floor(n / 2)): 26 -> 14 -> 8 -> 5 -> 3 -> 2;
    a fraction ceil(n * keep): 26 -> 13 -> 7 -> 4 -> 2 at keep = 0.5.

Either way never fewer than F, and always at least one fewer than n so that every round makes
progress. Ties are broken by candidate id, so the ranking does not depend on the order in which
scores arrived; a failed candidate drops out of its round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Union

from hyperprune.errors import UserError

FAILED = object()     # score_at(...) result: the candidate failed at that epoch
PENDING = None        # score_at(...) result: not scored yet


@dataclass
class Round:
    round: int
    epoch: int
    candidates: list[int]              # ranked, best first
    kept: list[int]                    # ranked, best first
    scores: dict[int, float]

    def to_dict(self) -> dict:
        return {"round": self.round, "epoch": self.epoch, "candidates": list(self.candidates),
                "kept": list(self.kept), "scores": {str(c): s for c, s in self.scores.items()}}


@dataclass
class Progress:
    """Where the rounds stand given the scores known so far."""
    rounds: list[Round] = field(default_factory=list)
    finalists: list[int] | None = None           # set once the rounds are over
    pending: list[tuple[int, int]] = field(default_factory=list)  # (candidate, epoch) to score next
    failed: dict[int, int] = field(default_factory=dict)          # candidate -> epoch it failed at


HALF_PLUS_ONE = "half+1"
Keep = Union[float, str]       # a fraction in (0, 1), or HALF_PLUS_ONE


def check_keep(keep: Keep) -> Keep:
    """`keep` as a rule the functions here accept, or a one-line UserError."""
    if isinstance(keep, str):
        text = keep.strip()
        if text == HALF_PLUS_ONE:
            return HALF_PLUS_ONE
        try:
            keep = float(text)
        except ValueError:
            raise UserError(f"search.keep = {keep!r} is not a keep rule; allowed: half+1 (the paper's "
                            f"floor(n/2)+1) or a fraction in (0, 1)") from None
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < keep < 1.0:
        raise UserError(f"search.keep = {keep!r} is out of range; allowed: half+1 (the paper's "
                        f"floor(n/2)+1) or a fraction in (0, 1)")
    return float(keep)


def n_kept(n: int, keep: Keep, finalists: int) -> int:
    """How many of n candidates survive a round."""
    if n <= finalists:
        return n
    if keep == HALF_PLUS_ONE:
        wanted = n // 2 + 1
    else:
        # The small tolerance keeps ceil(10 * 0.3) at 3 despite 10 * 0.3 = 3.0000000000000004.
        wanted = math.ceil(n * keep - 1e-9)
    return max(finalists, min(n - 1, wanted))


def rank(scores: dict[int, float]) -> list[int]:
    """Candidate ids, best (lowest) score first; ties by id."""
    return sorted(scores, key=lambda c: (scores[c], c))


def select(scores: dict[int, float], keep: Keep, finalists: int) -> list[int]:
    """The survivors of one round, ranked."""
    return rank(scores)[: n_kept(len(scores), keep, finalists)]


def round_epochs(e0: int, ei: int, final: int, n_rounds: int) -> list[int]:
    return [min(e0 + r * ei, final) for r in range(n_rounds)]


def planned_sizes(n: int, keep: Keep, finalists: int) -> list[int]:
    """Candidates in each round when none fails: [n, kept_0, kept_1, ..., F]."""
    sizes = [n]
    while sizes[-1] > finalists:
        sizes.append(n_kept(sizes[-1], keep, finalists))
    return sizes


def advance(first_scores: dict[int, float], score_at: Callable[[int, int], object], *,
            e0: int, ei: int, final: int, keep: Keep, finalists: int) -> Progress:
    """Replay the rounds from the e0 scores, reading later scores through `score_at(candidate, epoch)`
    (a float, PENDING or FAILED), as far as the known scores allow."""
    progress = Progress()
    alive = dict(first_scores)
    epoch = e0
    r = 0
    while True:
        if len(alive) <= finalists:
            progress.finalists = rank(alive)
            return progress
        kept = select(alive, keep, finalists)
        progress.rounds.append(Round(r, epoch, rank(alive), kept, dict(alive)))
        if len(kept) <= finalists:
            progress.finalists = kept
            return progress
        next_epoch = min(epoch + ei, final)
        scores: dict[int, float] = {}
        for candidate in kept:
            score = score_at(candidate, next_epoch) if next_epoch != epoch else alive[candidate]
            if score is FAILED:
                progress.failed[candidate] = next_epoch
            elif score is PENDING:
                progress.pending.append((candidate, next_epoch))
            else:
                scores[candidate] = float(score)
        if progress.pending:
            return progress
        alive, epoch, r = scores, next_epoch, r + 1
