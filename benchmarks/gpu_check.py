"""The GPU path at the paper's scale, in one script of at most 8 minutes on one GPU.

(a) throughput: our Trainer's training pass on `lstm-large` (2 x 1500, batch 20, bptt 35, dropout
    0.65, lr 40, clip 0.25) against a bare cuDNN `nn.LSTM` loop of the same sizes and update, in
    the same process, alternated; prints ours / bare in tokens per second (aim: >= 0.9);
(b) the 2 x 1500 `reference` spectrum (2 x 35 tokens, warm-up 10, all 3000 exponents) timed on the
    GPU and on the CPU;
(c) configs/paper/lstm-ptb.yaml as a 4-candidate search shrunk in epochs only (e0 = 1, one epoch
    per round, final 2), run by two processes sharing the GPU: `hyperprune search` (which works
    too) and one `hyperprune worker`, on a journal-file study.

`--tiny` runs the same code on the CPU with tiny sizes, in under a minute (the test runs it).

    python benchmarks/gpu_check.py                          # -> benchmarks/results/gpu_check.json
    python benchmarks/gpu_check.py --tiny --run-root /tmp/gpu-check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from hyperprune.config import from_dict
from hyperprune.data import get_batch
from hyperprune.lyapunov import make_probe, model_spectrum
from hyperprune.models import build_model, resolve_model_config
from hyperprune.models.config import ModelConfig
from hyperprune.run_files import read_results
from hyperprune.train import RunConfig, Trainer

REPO = Path(__file__).resolve().parents[1]
PAPER_LSTM = REPO / "configs" / "paper" / "lstm-ptb.yaml"

# The paper's lstm-large recipe (configs/paper/lstm-ptb.yaml), dense, SGD before any averaging.
RECIPE = {"batch_size": 20, "eval_batch_size": 20, "bptt": 35, "lr": 40.0, "clip": 0.25,
          "weight_decay": 1.2e-6, "decay_after": None, "epochs": 100}
FULL = {"hidden": 1500, "train_tokens": 150_000, "repeats": 3, "device": "cuda"}
TINY = {"hidden": 24, "train_tokens": 4_000, "repeats": 2, "device": "cpu"}
# What (c) shrinks under --tiny besides epochs: sizes only, as a user would with key=value.
TINY_SEARCH = ["model.hidden_size=12", "model.emb_size=12", "data.train_tokens=3000", "data.valid_tokens=1500",
               "data.test_tokens=1500"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BareLSTM(nn.Module):
    """The baseline: embedding, dropout, cuDNN nn.LSTM, dropout, linear decoder; nothing else."""

    def __init__(self, vocab: int, hidden: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, 2, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        out, state = self.lstm(self.drop(self.embedding(x)), state)
        return self.decoder(self.drop(out)), state


def bare_epoch(model: BareLSTM, data: torch.Tensor, hidden: int) -> float:
    """Seconds for one training pass over `data` (N, B) with the recipe's update."""
    opt = torch.optim.SGD(model.parameters(), lr=RECIPE["lr"], weight_decay=RECIPE["weight_decay"])
    batch, device = data.size(1), data.device
    state = (torch.zeros(2, batch, hidden, device=device), torch.zeros(2, batch, hidden, device=device))
    _sync(device)
    start = time.perf_counter()
    for i in range(0, data.size(0) - 1, RECIPE["bptt"]):
        x, y = get_batch(data, i, RECIPE["bptt"])
        state = tuple(s.detach() for s in state)
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), RECIPE["clip"])
        opt.step()
    _sync(device)
    return time.perf_counter() - start


def throughput(root: Path, size: dict) -> dict:
    """(a): ours vs bare, alternated; EpochRecord.wall_s is the training pass alone, as the bare loop."""
    hidden, device = size["hidden"], torch.device(size["device"])
    cfg = from_dict(RunConfig, {
        "data": {"name": "ptb", "train_tokens": size["train_tokens"], "valid_tokens": 2000, "test_tokens": 2000},
        "model": {"preset": "lstm-large", "hidden_size": hidden, "emb_size": hidden},
        "train": RECIPE, "device": str(device), "run_dir": str(root / "throughput")})
    ours, bare = [], []
    for r in range(size["repeats"] + 1):          # round 0 warms up cuDNN, the allocator and the threads
        shutil.rmtree(root / f"throughput-{r}", ignore_errors=True)
        trainer = Trainer(cfg, root / f"throughput-{r}", verbose=False, progress=False)
        baseline = BareLSTM(trainer.vocab_size, hidden, trainer.cfg.model.dropout).to(device)
        b = bare_epoch(baseline, trainer.train_data, hidden)
        o = trainer.train_epoch().wall_s
        data_tokens = (trainer.train_data.size(0) - 1) * trainer.train_data.size(1)
        if r > 0:
            bare.append(b)
            ours.append(o)
        del trainer, baseline
    return {
        "hidden": hidden, "batch": RECIPE["batch_size"], "bptt": RECIPE["bptt"], "train_tokens": data_tokens,
        "ours_s": ours, "bare_s": bare,
        "ours_tokens_per_s": data_tokens / statistics.median(ours),
        "bare_tokens_per_s": data_tokens / statistics.median(bare),
        "ratio_ours_over_bare_throughput": statistics.median(bare) / statistics.median(ours),
    }


def spectrum_timing(size: dict) -> dict:
    """(b): one reference spectrum of an untrained 2 x H LSTM (its cost does not depend on training)."""
    hidden = size["hidden"]
    cfg = resolve_model_config(ModelConfig(preset="lstm-large", hidden_size=hidden, emb_size=hidden))
    valid = torch.randint(0, 10_000, (2_000,), generator=torch.Generator().manual_seed(0))
    probe = make_probe(valid, n_sequences=2, length=35, seed=0, warmup=10, mode="first")
    out = {"hidden": hidden, "exponents": 2 * hidden, "sequences": 2, "length": 35, "warmup": 10}
    devices = ["cpu"] + ([size["device"]] if size["device"] != "cpu" else [])
    for name in devices:
        torch.manual_seed(0)
        model = build_model(cfg, 10_000).to(name).eval()
        if name != "cpu":                         # the first call on a GPU pays for kernel set-up
            model_spectrum(model, probe, convention="reference", warmup=10, seed=0)
        _sync(torch.device(name))
        start = time.perf_counter()
        spectrum = model_spectrum(model, probe, convention="reference", warmup=10, seed=0)
        _sync(torch.device(name))
        out[f"{name.split(':')[0]}_s"] = time.perf_counter() - start
        out[f"{name.split(':')[0]}_largest"] = float(spectrum.mean.max())
    if "cuda_s" in out:
        out["speedup_cuda_over_cpu"] = out["cpu_s"] / out["cuda_s"]
    return out


def _hyperprune(*args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    handle = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", "hyperprune.cli", *args], stdout=handle,
                            stderr=subprocess.STDOUT, env=env, cwd=REPO)


def shared_search(root: Path, size: dict, tiny: bool, timeout_s: float) -> dict:
    """(c): the paper's LSTM search, 4 candidates, e0 = 1, final 2, two processes on one device."""
    run_dir = root / "search"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    storage = f"journal:///{(run_dir / 'study.log').resolve()}"
    overrides = ["search.n_candidates=4", "search.first_epoch=1", "search.epochs_per_round=1",
                 "search.final_epochs=2", "train.epochs=2", f"search.storage={storage}",
                 "search.study_name=gpu-check", f"run_dir={run_dir.resolve()}", f"device={size['device']}",
                 *(TINY_SEARCH + ["search.threads=1"] if tiny else [])]
    start = time.perf_counter()
    owner = _hyperprune("search", str(PAPER_LSTM), *overrides, log=run_dir / "owner.log")
    deadline = start + timeout_s
    # The worker reads the config from the study: start it once the owner has created it (the owner
    # writes search.yaml right after).
    while not (run_dir / "search.yaml").is_file() and owner.poll() is None and time.perf_counter() < deadline:
        time.sleep(0.2)
    worker = _hyperprune("worker", "--storage", storage, "--study", "gpu-check", "--device", size["device"],
                         log=run_dir / "worker.log")
    codes = {}
    for name, process in (("owner", owner), ("worker", worker)):
        try:
            codes[name] = process.wait(timeout=max(1.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            process.kill()
            codes[name] = "timeout"
    wall = time.perf_counter() - start
    results = read_results(run_dir) or {}
    candidates = results.get("candidates", [])
    return {
        "wall_s": wall, "exit_codes": codes, "status": results.get("status"),
        "winner": (results.get("winner") or {}).get("id"),
        "rounds": [[len(r["candidates"]), len(r["kept"])] for r in results.get("rounds", [])],
        "candidate_statuses": {str(c["id"]): c["status"] for c in candidates},
        "cost": results.get("cost"),
        "logs": [str(run_dir / "owner.log"), str(run_dir / "worker.log")],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (under a minute)")
    parser.add_argument("--out", help="JSON figures (default benchmarks/results/gpu_check.json; "
                                      "--tiny: RUN_ROOT/gpu_check_tiny.json)")
    parser.add_argument("--run-root", default="runs/gpu-check")
    parser.add_argument("--device", help="default cuda (cpu with --tiny)")
    parser.add_argument("--search-timeout", type=float, default=300.0, help="seconds allowed for (c)")
    args = parser.parse_args(argv)
    size = dict(TINY if args.tiny else FULL)
    if args.device:
        size["device"] = args.device
    if size["device"].startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here; run with --tiny (CPU) or on a GPU machine")
    root = Path(args.run_root)
    root.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else (root / "gpu_check_tiny.json" if args.tiny
                                           else REPO / "benchmarks" / "results" / "gpu_check.json")
    result = {"date": time.strftime("%Y-%m-%d"), "tiny": args.tiny, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine(),
              "gpu": torch.cuda.get_device_name(0) if size["device"].startswith("cuda") else None}
    start = time.perf_counter()
    result["throughput"] = t = throughput(root, size)
    print(f"(a) lstm-large {t['hidden']}: ours {t['ours_tokens_per_s']:.0f} tok/s, bare nn.LSTM "
          f"{t['bare_tokens_per_s']:.0f} tok/s, ours/bare {t['ratio_ours_over_bare_throughput']:.3f}", flush=True)
    result["spectrum"] = s = spectrum_timing(size)
    print(f"(b) reference spectrum 2x{s['hidden']}: cpu {s['cpu_s']:.2f} s"
          + (f", {size['device']} {s['cuda_s']:.2f} s ({s['speedup_cuda_over_cpu']:.1f}x)" if "cuda_s" in s else ""),
          flush=True)
    result["search"] = c = shared_search(root, size, args.tiny, args.search_timeout)
    print(f"(c) 4-candidate lstm-ptb search, 2 processes: {c['wall_s']:.1f} s, status {c['status']}, "
          f"winner {c['winner']}, rounds {c['rounds']}, exit codes {c['exit_codes']}", flush=True)
    result["wall_s"] = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out} ({result['wall_s']:.0f} s)", flush=True)
    return result


if __name__ == "__main__":
    main()
