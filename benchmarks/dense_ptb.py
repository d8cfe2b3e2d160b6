"""Dense PTB benchmark: Zaremba et al.'s small LSTM (2x200, 13 epochs) trained by our Trainer.

Two measurements in one process:
1. throughput: our Trainer's epoch over a slice of PTB against a bare `nn.LSTM` training loop
   (same sizes, batches, optimiser and clipping), alternated to cancel drift; prints the ratio;
2. quality: the full 13-epoch schedule on all of PTB (resumable: re-run continues), validation
   and test perplexity (Zaremba et al. report 114.5 test).

    python benchmarks/dense_ptb.py --out benchmarks/results/dense_ptb.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from hyperprune.config import from_dict
from hyperprune.data import get_batch
from hyperprune.train import RunConfig, Trainer

# Zaremba et al. sum the loss over the 20 time steps (lr 1, clip 5); we average per token, so the
# same update is lr 20 and clip 5 / 20 = 0.25.
RECIPE = {"epochs": 13, "batch_size": 20, "eval_batch_size": 10, "bptt": 20, "lr": 20.0,
          "decay_after": 4, "lr_decay": 0.5, "clip": 0.25}


class BareLSTM(nn.Module):
    """The baseline: embedding, nn.LSTM, linear decoder; nothing else."""

    def __init__(self, vocab: int, hidden: int, layers: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, layers)
        self.decoder = nn.Linear(hidden, vocab)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, x, state):
        out, state = self.lstm(self.embedding(x), state)
        return self.decoder(out), state


def bare_epoch(model: BareLSTM, data: torch.Tensor, bptt: int, lr: float, clip: float) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    batch = data.size(1)
    state = (torch.zeros(2, batch, 200), torch.zeros(2, batch, 200))
    start = time.perf_counter()
    for i in range(0, data.size(0) - 1, bptt):
        x, y = get_batch(data, i, bptt)
        state = tuple(s.detach() for s in state)
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return time.perf_counter() - start


def throughput(run_root: Path, train_tokens: int, repeats: int) -> dict:
    cfg = from_dict(RunConfig, {"data": {"name": "ptb", "train_tokens": train_tokens, "valid_tokens": 2000,
                                         "test_tokens": 2000},
                                "model": {"preset": "lstm-small"}, "train": {**RECIPE, "epochs": 100},
                                "device": "cpu", "run_dir": str(run_root / "throughput")})
    ours, bare = [], []
    # One untimed round first: allocator and thread-pool warm-up would otherwise count against
    # whichever loop runs first.
    warm = Trainer(cfg, run_root / "throughput-warmup", verbose=False, progress=False)
    bare_epoch(BareLSTM(warm.vocab_size, 200, 2), warm.train_data[:200], RECIPE["bptt"], 1.0, 5.0)
    for r in range(repeats):
        trainer = Trainer(cfg, run_root / f"throughput-{r}", verbose=False, progress=False)
        data = trainer.train_data
        baseline = BareLSTM(trainer.vocab_size, 200, 2)
        bare.append(bare_epoch(baseline, data, RECIPE["bptt"], RECIPE["lr"], RECIPE["clip"]))
        record = trainer.train_epoch()
        ours.append(record.wall_s)
    tokens = (data.size(0) - 1) * data.size(1)
    return {
        "train_tokens": tokens,
        "ours_s": ours, "bare_s": bare,
        "ours_tokens_per_s": tokens / statistics.median(ours),
        "bare_tokens_per_s": tokens / statistics.median(bare),
        "ratio_ours_over_bare_time": statistics.median(ours) / statistics.median(bare),
        "note": "ours_s is EpochRecord.wall_s: the training pass only, as the bare loop",
    }


def quality(run_dir: Path) -> dict:
    cfg = from_dict(RunConfig, {"data": {"name": "ptb"}, "model": {"preset": "lstm-small"},
                                "train": RECIPE, "device": "cpu", "seed": 0, "run_dir": str(run_dir)})
    trainer = Trainer(cfg, run_dir, progress=False)
    trainer.train()
    return {
        "epochs": trainer.epoch,
        "valid_ppl": trainer.evaluate("valid"),
        "test_ppl": trainer.evaluate("test"),
        "train_wall_s": trainer.train_wall_s,
        "tokens_per_s": statistics.median(r.tokens_per_s for r in trainer.history),
        "valid_ppl_by_epoch": [r.valid_ppl for r in trainer.history],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/dense_ptb.json")
    parser.add_argument("--run-root", default="runs/bench-dense-ptb")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--throughput-tokens", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true", help="keep the figures already in --out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(args.run_root)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
              "threads": args.threads, "torch": torch.__version__}
    out = Path(args.out)
    if args.skip_throughput and out.is_file():
        result["throughput"] = json.loads(out.read_text())["throughput"]
    else:
        result["throughput"] = throughput(root, args.throughput_tokens, args.repeats)
    t = result["throughput"]
    print(f"throughput: ours {t['ours_tokens_per_s']:.0f} tok/s, bare nn.LSTM {t['bare_tokens_per_s']:.0f} tok/s, "
          f"time ratio ours/bare {t['ratio_ours_over_bare_time']:.3f}", flush=True)
    if not args.skip_quality:
        result["quality"] = quality(root / "zaremba-small")
        q = result["quality"]
        print(f"lstm-small PTB, {q['epochs']} epochs: valid ppl {q['valid_ppl']:.2f}, test ppl {q['test_ppl']:.2f} "
              f"(Zaremba et al.: 120.7 valid / 114.5 test)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
