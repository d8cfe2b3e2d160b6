"""A synthetic long pool whose answers are known by construction, written in pool_ptb_long.py's format.

20 candidates (c00 the best, c19 the worst: final test 100 + 3 i, valid 5 more) and c20, a
bit-identical copy of c05. T = 16 windows, spectra at windows 1-6, 8, 12, 16. At every window:

    valid_ppl          final valid + 200 / w: the final order exactly            rho = 1
    reference probe5   distance i to dense: the final order exactly              rho = 1
    reference probe2   neighbours swapped (c00 <-> c01, c02 <-> c03, ...)         rho = 1 - 6 * 20 / (20^3 - 20)
    standard_k64       distance 19 - i: the order reversed                       rho = -1

Dense: final valid 90, valid 90 + 250 / w, so its ratio to the final is 3.78 at w = 1 and 2.39 at
w = 2: w* = 2. Every window costs a search 10 s; a recorded window adds 1 s of validation after
the update and 1 s of spectra (all four measurements together). c00 and c01 are also trained under
seeds 1 and 2 (final test +-1 and +-2: seed sd 1 and 2, pooled sqrt(2.5)). Every 4th candidate
(c00, c04, ...) is SET-signed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

N, T = 20, 16
RECORDED = [1, 2, 3, 4, 5, 6, 8, 12, 16]
SWAPPED = [i + 1 if i % 2 == 0 else i - 1 for i in range(N)]


def long_record(name: str, kind: str, candidate: int | None, seed: int, final_test: float,
                distances: tuple[float, float, float] | None) -> dict:
    """`distances`: (reference probe2, reference probe5, standard) distances to dense (None: dense)."""
    final_valid = final_test + 5 if kind == "candidate" else 90.0
    windows = []
    for w in range(1, T + 1):
        row = {"window": w, "lr": 20.0, "averaged": False, "train_ppl": 500.0,
               "valid_ppl_before_update": final_valid + (200.0 if kind == "candidate" else 250.0) / w,
               "seconds": {"train": 8.0, "mask_update": 0.5, "window": 10.0}}
        if w in RECORDED:
            p2, p5, std = distances or (0.0, 0.0, 0.0)
            # two probe windows whose mean is (d, 0) and five whose mean is (d5, 0): L2 = d exactly
            row["spectra"] = {"reference": {"probe2": [[p2 + 1, 0.5], [p2 - 1, -0.5]],
                                            "probe5": [[p5, 0.0]] * 5},
                              "standard_k64": {"probe2": [[0.0, std]] * 2, "probe5": [[0.0, std]] * 5}}
            row["valid_ppl_after_update"] = row["valid_ppl_before_update"] + 1
            row["densities"] = {"decoder.weight": 0.33}
            row["seconds"].update(valid_after_update=1.0, spectra=1.0, window=12.0)
        windows.append(row)
    params = None if kind == "dense" else {
        "sparse.init": "ER", "sparse.death": "SET-signed" if candidate % 4 == 0 else "magnitude",
        "sparse.growth": "random", "sparse.redistribution": "magnitude" if candidate % 3 == 2 else "nonzeros",
        "sparse.death_rate": 0.5}
    return {"format": 1, "pool": "ptb-long", "name": name, "kind": kind, "candidate": candidate, "params": params,
            "seed": seed, "windows_total": T, "recorded_windows": RECORDED,
            "probe": {"probe2": {"n_sequences": 2}, "probe5": {"n_sequences": 5}}, "windows": windows,
            "final": {"last": {"valid_ppl": final_valid, "test_ppl": final_test, "window": T},
                      "best_valid": {"window": T, "valid_ppl": final_valid, "test_ppl": final_test}},
            "failure": None}


def synthetic_long_records() -> list[dict]:
    out = [long_record(f"c{i:02d}-s0", "candidate", i, 0, 100.0 + 3 * i, (SWAPPED[i], i, N - 1 - i))
           for i in range(N)]
    copy = long_record("c20-s0", "candidate", 20, 0, 115.0, (SWAPPED[5], 5, N - 1 - 5))   # = c05
    copy["params"] = dict(copy["params"], **{"sparse.death": "threshold"})
    out.append(copy)
    for i, spread in ((0, 1.0), (1, 2.0)):
        out += [long_record(f"c{i:02d}-s1", "candidate", i, 1, 100.0 + 3 * i + spread, (SWAPPED[i], i, N - 1 - i)),
                long_record(f"c{i:02d}-s2", "candidate", i, 2, 100.0 + 3 * i - spread, (SWAPPED[i], i, N - 1 - i))]
    out.append(long_record("dense-s0", "dense", None, 0, 88.0, None))
    return out


@pytest.fixture(scope="session")
def long_pool_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pools") / "pool-ptb-long"
    folder.mkdir()
    for record in synthetic_long_records():
        (folder / f"{record['name']}.json").write_text(json.dumps(record))
    return folder


@pytest.fixture(scope="session")
def long_pool(long_pool_dir):
    from hyperprune.pools import load
    return load("ptb-long", long_pool_dir)
