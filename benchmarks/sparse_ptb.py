"""Sparse vs dense training of the small LSTM on PTB, measured in one process.

1. cost: epoch time of Selfish-RNN-style sparse training at sparsity 0.67 (mask updates included)
   over dense training of the same `lstm-small`, alternated over `--repeats` epochs each;
2. quality: validation and test perplexity of the `selfish-rnn` preset at 0.67 next to dense after
   the same number of epochs with the same recipe (resumable run directories).

    python benchmarks/sparse_ptb.py --out benchmarks/results/sparse_ptb.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from hyperprune.config import from_dict
from hyperprune.train import RunConfig, Trainer

SPARSE = {"preset": "selfish-rnn", "sparsity": 0.67, "death_rate": 0.5}


def config(run_dir: Path, data: dict, recipe: dict, sparse: dict | None) -> RunConfig:
    return from_dict(RunConfig, {"data": {"name": "ptb", **data}, "model": {"preset": "lstm-small"},
                                 "train": recipe, "sparse": sparse or {}, "device": "cpu", "seed": 0,
                                 "run_dir": str(run_dir)})


def cost(root: Path, tokens: int, repeats: int) -> dict:
    data = {"train_tokens": tokens, "valid_tokens": 2000, "test_tokens": 2000}
    # Same recipe for both; SGD so the optimiser is identical and only the masks differ.
    recipe = {"epochs": 100, "bptt": 35, "lr": 20.0, "clip": 0.25, "decay_after": None, "optimizer": "sgd"}
    dense = Trainer(config(root / "cost-dense", data, recipe, None), verbose=False, progress=False)
    sparse = Trainer(config(root / "cost-sparse", data, recipe, SPARSE), verbose=False, progress=False)
    # CPU time of this process (one thread) as well as wall time: on a machine shared with other
    # work the wall clock swings by 2x between epochs, the CPU time of a one-thread process barely.
    # Each epoch's time covers the training pass, validation on 2k tokens, the mask update and the
    # checkpoint, the same work for both but the masks.
    runs = {"dense": (dense, [], []), "sparse": (sparse, [], [])}
    mask_s = []
    for r in range(repeats):
        for name in (("dense", "sparse") if r % 2 == 0 else ("sparse", "dense")):
            trainer, cpu, wall = runs[name]
            c0, w0 = time.process_time(), time.perf_counter()
            record = trainer.train_epoch()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            if name == "sparse":
                mask_s.append(record.mask_update_s)
    (_, dense_cpu, dense_wall), (_, sparse_cpu, sparse_wall) = runs["dense"], runs["sparse"]
    return {"train_tokens": tokens, "dense_epoch_cpu_s": dense_cpu, "sparse_epoch_cpu_s": sparse_cpu,
            "dense_epoch_wall_s": dense_wall, "sparse_epoch_wall_s": sparse_wall, "mask_update_s": mask_s,
            "ratio_sparse_over_dense_cpu": statistics.median(sparse_cpu) / statistics.median(dense_cpu),
            "ratio_sparse_over_dense_wall": statistics.median(sparse_wall) / statistics.median(dense_wall)}


def quality(root: Path, tokens: int | None, epochs: int) -> dict:
    data = {"train_tokens": tokens} if tokens else {}
    recipe = {"epochs": epochs, "bptt": 35, "lr": 20.0, "clip": 0.25, "decay_after": None,
              "optimizer": "nt-asgd", "nonmono": 5}
    out = {}
    for name, sparse in (("dense", None), ("selfish-rnn-0.67", SPARSE)):
        trainer = Trainer(config(root / f"quality-{name}", data, recipe, sparse), progress=False)
        trainer.train()
        total, nonzero = trainer.parameter_counts()
        out[name] = {"valid_ppl": trainer.evaluate("valid"), "test_ppl": trainer.evaluate("test"),
                     "epochs": trainer.epoch, "params_total": total, "params_nonzero": nonzero,
                     "valid_ppl_by_epoch": [r.valid_ppl for r in trainer.history]}
        print(f"{name}: valid {out[name]['valid_ppl']:.2f} test {out[name]['test_ppl']:.2f} "
              f"({nonzero:,}/{total:,} nonzero)", flush=True)
    return {"train_tokens": tokens, "epochs": epochs, "recipe": recipe, "runs": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/sparse_ptb.json")
    parser.add_argument("--run-root", default="runs/bench-sparse-ptb")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cost-tokens", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality-tokens", type=int, default=0, help="0: all of PTB")
    parser.add_argument("--quality-epochs", type=int, default=6)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-cost", action="store_true", help="keep the cost figures already in --out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(args.run_root)
    result = {"date": time.strftime("%Y-%m-%d"), "threads": args.threads, "torch": torch.__version__}
    out = Path(args.out)
    if args.skip_cost and out.is_file():
        result["cost"] = json.loads(out.read_text())["cost"]
    else:
        result["cost"] = cost(root, args.cost_tokens, args.repeats)
    c = result["cost"]
    print(f"epoch time sparse/dense: {c['ratio_sparse_over_dense_cpu']:.3f} (CPU time), "
          f"{c['ratio_sparse_over_dense_wall']:.3f} (wall)", flush=True)
    if not args.skip_quality:
        result["quality"] = quality(root, args.quality_tokens or None, args.quality_epochs)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
