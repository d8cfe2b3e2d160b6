"""Pools of fully trained candidates, read into one in-memory shape (docs/pools.md has the files).

Three pools are read the same way:

    ptb        benchmarks/results/pool-ptb/       per-epoch records of `benchmarks/pool_ptb.py`
                                                  (6 epochs; spectra every epoch, one 2-window probe,
                                                  stored as its mean)
    ptb-long   benchmarks/results/pool-ptb-long/  per-window records of `benchmarks/pool_ptb_long.py`
                                                  (48 windows; spectra at the recorded windows, every
                                                  probe window a row, probes of 2 and of 5 windows)
    paper      benchmarks/results/paper_pool_lstm_ptb.json
                                                  the LSH paper's released pool of 26: epoch-3 scores
                                                  and final test perplexity only

An "epoch" of the first pool and a "window" of the long pool are the same unit here (`Window`):
the training between two mask updates, after which validation runs and spectra are measured.

A run's final is what the pool reports for it: the last epoch for `ptb`, the best-validation state
for `ptb-long` (the paper reports that one), the released final test perplexity for `paper`.

Candidates that train bit for bit alike (threshold death ignores the death rate until its tau
settles, so in `ptb` c00 = c04 and c01 = c09 = c29) count once: the lowest-numbered is kept and the
others are listed in `Pool.duplicates`. Two runs are bit-identical here when every perplexity they
recorded is equal as a float, which distinct runs never are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hyperprune.errors import UserError

# The repository's copy of the pools; present when hyperprune is installed editable from a checkout.
REPOSITORY = Path(__file__).resolve().parents[3]
FOLDERS = {"ptb": "benchmarks/results/pool-ptb", "ptb-long": "benchmarks/results/pool-ptb-long",
           "paper": "benchmarks/results/paper_pool_lstm_ptb.json"}


@dataclass(frozen=True)
class Window:
    """One epoch/window of a run, as recorded."""
    window: int
    valid_ppl: float                   # before the mask update: what the search scores
    search_seconds: float              # training, validation, mask update, checkpoint: what a search spends
    valid_ppl_after_update: float | None = None
    train_ppl: float | None = None
    lr: float | None = None
    # variant ("reference" | "standard_k64") -> probe ("probe2" | "probe5") -> (probe windows, k);
    # None where the window was not recorded
    spectra: dict[str, dict[str, np.ndarray]] | None = None
    # variant -> seconds of its measurement; {"all": s} where the record keeps one total
    spectrum_seconds: dict[str, float] | None = None
    densities: dict[str, float] | None = None
    scores: dict[str, float] = field(default_factory=dict)   # signals measured elsewhere (the paper's pool)

    def spectrum_cost(self, variant: str) -> float:
        """Seconds of one `variant` measurement here (a record's total for all its spectra, where it
        keeps no split: an upper bound)."""
        seconds = self.spectrum_seconds or {}
        return float(seconds.get(variant, seconds.get("all", 0.0)))


@dataclass(frozen=True)
class Final:
    test_ppl: float
    valid_ppl: float | None            # None for the paper's pool, which released test only
    window: int


@dataclass(frozen=True)
class Run:
    name: str
    kind: str                          # "dense" | "candidate"
    candidate: int | None
    seed: int
    params: dict | None                # the searched settings ("sparse.death", ...); None for dense
    windows: tuple[Window, ...]
    final: Final | None                # None while hidden (`upto`) or when the run failed
    failure: str | None = None

    def at(self, window: int) -> Window | None:
        return next((w for w in self.windows if w.window == window), None)

    def upto(self, window: int) -> Run:
        """What a search knows of this run at `window`: its records up to there, and no final."""
        return replace(self, windows=tuple(w for w in self.windows if w.window <= window), final=None)

    def spectrum(self, variant: str, probe: str) -> tuple[int, np.ndarray] | None:
        """(window, exponents averaged over the probe's windows) of the latest window that has it."""
        for w in reversed(self.windows):
            if w.spectra and variant in w.spectra and probe in w.spectra[variant]:
                return w.window, w.spectra[variant][probe].mean(axis=0)
        return None


@dataclass
class Pool:
    name: str
    runs: list[Run]                    # every run read, failed and duplicate ones included
    total_windows: int                 # T: the budget every run trains to
    recorded: list[int]                # windows whose early signals can be analysed
    probes: tuple[str, ...]            # spectrum probes recorded: ("probe2",) or ("probe2", "probe5")
    duplicates: dict[str, str] = field(default_factory=dict)   # run -> the bit-identical run kept
    excluded: str | None = None        # what `without` took out, for the tables' titles

    @property
    def dense(self) -> Run | None:
        return next((r for r in self.runs if r.kind == "dense" and r.seed == 0 and r.final), None)

    @property
    def candidates(self) -> list[Run]:
        """The pool proper: seed-0 candidates that finished, one per distinct run, by number."""
        return sorted((r for r in self.runs if r.kind == "candidate" and r.seed == 0 and r.final is not None
                       and r.name not in self.duplicates), key=lambda r: r.candidate)

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.runs if r.failure is not None]

    def without(self, keep_out: Callable[[Run], bool], words: str) -> Pool:
        """The same pool less the candidates `keep_out` names (their seeds too)."""
        out = [r.candidate for r in self.runs if r.kind == "candidate" and r.params and keep_out(r)]
        return replace(self, runs=[r for r in self.runs if r.candidate not in out or r.kind == "dense"],
                       excluded=words)

    def final_valid(self) -> np.ndarray:
        return np.array([r.final.valid_ppl for r in self.candidates], dtype=float)

    def final_test(self) -> np.ndarray:
        return np.array([r.final.test_ppl for r in self.candidates], dtype=float)

    def seed_groups(self) -> dict[str, dict[int, Final]]:
        """Runs trained under several seeds: "dense" or "cNN" -> seed -> final."""
        groups: dict[str, dict[int, Final]] = {}
        for r in self.runs:
            if r.final is not None and r.name not in self.duplicates:
                key = "dense" if r.kind == "dense" else f"c{r.candidate:02d}"
                groups.setdefault(key, {})[r.seed] = r.final
        return {key: by_seed for key, by_seed in groups.items() if len(by_seed) > 1}


def number(value) -> float:
    """A recorded number: floats, and the strings "inf" / "nan" the writers use past float range."""
    return float(value)


def _maybe(value) -> float | None:
    return None if value is None else number(value)


# --- the two record formats ------------------------------------------------------------------------------

def _epoch_window(row: dict) -> Window:
    """A `pool_ptb.py` epoch: one 2-window probe, kept as its mean (so one row)."""
    s = row["seconds"]
    spectra = {variant: {"probe2": np.array([[number(v) for v in values]])}
               for variant, values in row["spectra"].items()}
    return Window(window=row["epoch"], valid_ppl=number(row["valid_ppl_before_update"]),
                  valid_ppl_after_update=_maybe(row.get("valid_ppl_after_update")),
                  train_ppl=_maybe(row.get("train_ppl")), lr=row.get("lr"),
                  # the record's epoch time less what only the benchmark measures
                  search_seconds=s["epoch"] - s["valid_after_update"] - sum(s["spectra"].values()),
                  spectra=spectra, spectrum_seconds=dict(s["spectra"]))


def _long_window(row: dict) -> Window:
    """A `pool_ptb_long.py` window: spectra (every probe window a row) only at recorded windows."""
    s = row["seconds"]
    recorded = "spectra" in row
    spectra = ({variant: {probe: np.array([[number(v) for v in values] for values in rows])
                          for probe, rows in probes.items()}
                for variant, probes in row["spectra"].items()} if recorded else None)
    extra = s.get("valid_after_update", 0.0) + s.get("spectra", 0.0)
    return Window(window=row["window"], valid_ppl=number(row["valid_ppl_before_update"]),
                  valid_ppl_after_update=_maybe(row.get("valid_ppl_after_update")),
                  train_ppl=_maybe(row.get("train_ppl")), lr=row.get("lr"),
                  search_seconds=s["window"] - extra, spectra=spectra,
                  spectrum_seconds={"all": s["spectra"]} if recorded else None,
                  densities=row.get("densities"))


def run_from_record(record: dict) -> tuple[Run, int, list[int], tuple[str, ...]]:
    """(run, budget T, recorded windows, probes) from one record of either pool."""
    if "windows" in record:
        windows = tuple(_long_window(w) for w in record["windows"])
        best = (record.get("final") or {}).get("best_valid")
        final = (Final(test_ppl=number(best["test_ppl"]), valid_ppl=number(best["valid_ppl"]), window=best["window"])
                 if best else None)
        total, recorded, probes = record["windows_total"], record["recorded_windows"], tuple(record["probe"])
    else:
        windows = tuple(_epoch_window(e) for e in record["epochs"])
        f = record["final"]
        final = Final(test_ppl=number(f["test_ppl"]), valid_ppl=number(f["valid_ppl"]),
                      window=f["epochs"]) if f else None
        total = record["config"]["train"]["epochs"] if "config" in record else len(windows)
        recorded, probes = [w.window for w in windows], ("probe2",)
    run = Run(name=record["name"], kind=record["kind"], candidate=record["candidate"], seed=record["seed"],
              params=record["params"], windows=windows, final=final, failure=record.get("failure"))
    return run, total, recorded, probes


def _fingerprint(run: Run) -> tuple:
    return (tuple((w.valid_ppl, w.valid_ppl_after_update) for w in run.windows),
            run.final.valid_ppl, run.final.test_ppl)


def bit_identical(runs: list[Run]) -> dict[str, str]:
    """Seed-0 candidate -> the lower-numbered candidate it trained bit for bit alike."""
    first: dict[tuple, str] = {}
    out = {}
    for r in sorted((r for r in runs if r.kind == "candidate" and r.final is not None),
                    key=lambda r: (r.seed, r.candidate)):
        key = (r.seed, _fingerprint(r))
        if key in first:
            out[r.name] = first[key]
        else:
            first[key] = r.name
    return out


def read_records(folder: Path, name: str | None = None) -> Pool:
    """Every `*.json` record in `folder` (either pool's format) as one Pool. Partial pools are fine."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"pool folder {folder} does not exist; give the folder that holds a pool's *.json records")
    runs, totals, recorded, probes = [], set(), set(), set()
    for path in sorted(folder.glob("*.json")):
        run, total, windows, run_probes = run_from_record(json.loads(path.read_text(encoding="utf-8")))
        runs.append(run)
        totals.add(total)
        recorded.update(windows)
        probes.add(run_probes)
    if len(totals) > 1 or len(probes) > 1:
        raise UserError(f"{folder} mixes records of different pools (budgets {sorted(totals)}); "
                        "keep one pool per folder")
    return Pool(name=name or folder.name.removeprefix("pool-"), runs=runs,
                total_windows=totals.pop() if totals else 0, recorded=sorted(recorded),
                probes=probes.pop() if probes else (), duplicates=bit_identical(runs))


def read_paper_pool(path: Path) -> Pool:
    """The paper's 26 candidates: the released epoch-3 LS distance and validation perplexity, the
    final test perplexity; no spectra, no dense run, no costs (so no replay)."""
    table = json.loads(Path(path).read_text(encoding="utf-8"))
    runs = []
    for index, row in enumerate(table["candidates"]):
        params = {"sparse.init": row["init"], "sparse.death": row["death"], "sparse.growth": row["growth"],
                  "sparse.redistribution": row["redistribution"], "sparse.death_rate": row["death_rate"],
                  "trial": row["trial"]}
        window = Window(window=3, valid_ppl=row["valid_ppl_e3"], search_seconds=math.nan,
                        scores={"ls_reference": row["ls_distance_e3"], "test_ppl": row["test_ppl_e3"]})
        runs.append(Run(name=f"trial{row['trial']}", kind="candidate", candidate=index, seed=0, params=params,
                        windows=(window,), final=Final(test_ppl=row["final_ppl"], valid_ppl=None, window=100)))
    return Pool(name="paper", runs=runs, total_windows=100, recorded=[3], probes=())


def load(name: str, where: Path | None = None) -> Pool:
    """A pool by name ("ptb" | "ptb-long" | "paper"), from `where` or the repository's records."""
    if name not in FOLDERS:
        raise UserError(f"unknown pool {name!r}; allowed: {', '.join(FOLDERS)}")
    path = Path(where) if where is not None else REPOSITORY / FOLDERS[name]
    if not path.exists():
        raise UserError(f"pool {name!r} not found at {path}: install hyperprune editable from a checkout "
                        f"(pip install -e .) or pass the folder of its records")
    return read_paper_pool(path) if name == "paper" else read_records(path, name)
