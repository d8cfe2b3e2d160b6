"""Early signals at e0 against final perplexity: the pairs behind the paper's Fig. 1-B and 1-C.

Fig. 1-B pairs each candidate's spectrum distance to the dense model at e0 with its final validation
perplexity; Fig. 1-C pairs its validation perplexity at e0 with the same. Only candidates trained to
the full budget have a final perplexity, so an `lsh` search yields as many pairs as finalists, and a
`full` search (or the reproduction benchmark) yields the whole pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from hyperprune.lyapunov import distance
from hyperprune.report.rank_correlation import RankCorrelation, rank_correlation
from hyperprune.search.search_results import SearchResults, by_epoch, number


@dataclass
class EarlySignal:
    name: str                      # "distance" | "valid_ppl"
    label: str                     # axis label
    epoch: int | None              # e0
    ids: list[str] = field(default_factory=list)
    early: list[float] = field(default_factory=list)
    final: list[float] = field(default_factory=list)
    correlation: RankCorrelation | None = None
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[dict]:
        return [{"id": i, self.name + f"@e{self.epoch}": x, "final_valid_ppl": y}
                for i, x, y in zip(self.ids, self.early, self.final)]


def spectrum_distance(candidate: dict, dense: dict, epoch: int | None) -> float | None:
    """L2 distance between a candidate's and the dense model's spectra at `epoch`, when both exist."""
    a, b = by_epoch(candidate.get("spectra"), epoch), by_epoch(dense.get("spectra"), epoch)
    if not isinstance(a, list) or not isinstance(b, list) or not a or len(a) != len(b):
        return None
    values_a, values_b = [number(v) for v in a], [number(v) for v in b]
    if None in values_a or None in values_b:
        return None

    return float(distance("l2", torch.tensor(values_a, dtype=torch.float64),
                          torch.tensor(values_b, dtype=torch.float64)))


def distance_signal(results: SearchResults) -> EarlySignal:
    e0 = results.first_epoch
    signal = EarlySignal("distance", f"spectrum distance to dense at epoch {e0}", e0)
    from_scores = results.metric == "ls"
    if not from_scores:
        signal.notes.append(f"the search scored by '{results.metric}', so distances are computed here "
                            f"(L2) from the recorded spectra")
    missing = 0
    for c in results.candidates:
        final = number(c.get("final_valid_ppl"))
        if final is None:
            continue
        if from_scores:
            early = number(by_epoch(c.get("scores"), e0))
        else:
            try:
                early = spectrum_distance(c, results.dense, e0)
            except ImportError:
                early = None
        if early is None:
            missing += 1
            continue
        signal.ids.append(str(c["id"]))
        signal.early.append(early)
        signal.final.append(final)
    if missing:
        signal.notes.append(f"{missing} fully trained candidate(s) have no distance at epoch {e0}")
    _correlate(signal, results)
    return signal


def valid_ppl_signal(results: SearchResults) -> EarlySignal:
    e0 = results.first_epoch
    signal = EarlySignal("valid_ppl", f"validation perplexity at epoch {e0}", e0)
    for c in results.candidates:
        final = number(c.get("final_valid_ppl"))
        early = number(by_epoch(c.get("valid_ppl_by_epoch"), e0))
        if final is None or early is None:
            continue
        signal.ids.append(str(c["id"]))
        signal.early.append(early)
        signal.final.append(final)
    _correlate(signal, results)
    return signal


def _correlate(signal: EarlySignal, results: SearchResults) -> None:
    finals = sum(number(c.get("final_valid_ppl")) is not None for c in results.candidates)
    if signal.epoch is None:
        signal.notes.append("no scoring round yet, so there is no e0")
    if finals == 0:
        signal.notes.append("no candidate has a final perplexity yet"
                            + (f" (the search is {results.unfinished})" if results.running else ""))
    signal.correlation = rank_correlation(signal.early, signal.final)
    if signal.correlation.note:
        signal.notes.append(signal.correlation.note)
