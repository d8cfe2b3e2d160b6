"""Early signals: what a search can know of a candidate at window w, as one number (lower ranks first).

A signal is any function `signal(run, dense) -> float`, where `run` and `dense` are the candidate's and
the dense model's records up to window w (`Run.upto(w)`: no final, nothing later), so a signal
cannot see the future it is judged against. `dense` is None in a pool without a dense run.

    valid_ppl                       validation perplexity at w, before the mask update (the search's loss)
    death_rate                      the candidate's death rate: a prior known before training
    ls_distance(variant, probe)     distance of the spectrum to the dense model's at the same window,
                                    each averaged over the probe's windows first (as the search does)
    released("ls_reference")        a score the pool's record holds (the paper's pool keeps only those)

`ls_distance` reads the latest recorded window at or before w: the long pool records spectra at
windows 1-10, 12, 16, ...; a round at an unrecorded window (w* + 9 = 11, say) is scored on the
spectrum of the window before it, which the search's default `lyapunov.measure: last-improving`
also does whenever validation did not improve.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

from hyperprune.lyapunov.distances import distance as measure
from hyperprune.pools.records import Run

Signal = Callable[[Run, "Run | None"], float]


def valid_ppl(run: Run, dense: Run | None) -> float:
    return run.windows[-1].valid_ppl


def death_rate(run: Run, dense: Run | None) -> float:
    return float(run.params["sparse.death_rate"])


def ls_distance(variant: str = "reference", probe: str = "probe2", distance: str = "l2", **options) -> Signal:
    """The search's score: `hyperprune.lyapunov.distance(distance, candidate, dense)` between the
    spectra averaged over the probe's windows, at the same window. A broken spectrum (inf / NaN)
    scores inf: it ranks last, as in the search."""

    def signal(run: Run, dense: Run | None) -> float:

        own = run.spectrum(variant, probe)
        if own is None or dense is None:
            return math.nan
        window, a = own
        reference = dense.upto(window).spectrum(variant, probe)
        if reference is None or reference[0] != window:
            return math.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # a non-finite side: ranked last below
            d = measure(distance, a, reference[1], **options)
        return d if math.isfinite(d) else math.inf

    signal.__name__ = f"ls_distance_{variant}_{probe}_{distance}"
    return signal


def released(score: str) -> Signal:
    """A score the record holds at the window (measured by someone else's code)."""

    def signal(run: Run, dense: Run | None) -> float:
        return float(run.windows[-1].scores.get(score, math.nan)) if run.windows else math.nan

    signal.__name__ = f"released_{score}"
    return signal
