"""Ties that decided a round: candidates with one score, some kept and some not. `rounds.rank`
breaks them by candidate id; the search warns of each (`console.py`) and the report lists them.
"""

from __future__ import annotations

import math
from typing import Any

from hyperprune.search.rounds import Round


def _tied_groups(scores: dict[int, float]) -> list[list[int]]:
    ordered = sorted(scores, key=lambda c: (scores[c], c))
    groups, current = [], [ordered[0]] if ordered else []
    for c in ordered[1:]:
        if math.isclose(scores[c], scores[current[-1]], rel_tol=1e-12, abs_tol=0.0):
            current.append(c)
        else:
            groups.append(current)
            current = [c]
    if current:
        groups.append(current)
    return [g for g in groups if len(g) > 1]


def round_ties(r: Round | dict[str, Any]) -> list[dict[str, Any]]:
    """Ties that decided who survived round `r`: candidates with one score, some kept and some not.
    Ties are broken by candidate id (`rounds.rank`)."""
    if isinstance(r, dict):
        # JSON keys are strings; a search's ids are numbers, a replayed pool's may be names.
        scores = {int(c) if str(c).isdigit() else c: v for c, v in r["scores"].items()}
        kept, number, epoch = set(r["kept"]), r["round"], r["epoch"]
    else:
        scores, kept, number, epoch = r.scores, set(r.kept), r.round, r.epoch
    out = []
    for group in _tied_groups(scores):
        inside = [c for c in group if c in kept]
        if inside and len(inside) < len(group):
            out.append({"round": number, "epoch": epoch, "candidates": group, "score": scores[group[0]],
                        "kept": inside, "eliminated": [c for c in group if c not in kept]})
    return out


def describe_tie(tie: dict[str, Any]) -> str:
    return (f"round {tie['round']} at epoch {tie['epoch']}: candidates {', '.join(map(str, tie['candidates']))} "
            f"tie at score {tie['score']:.6g}; broken by candidate id: kept {tie['kept']}, "
            f"eliminated {tie['eliminated']}")
