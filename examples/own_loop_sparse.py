"""hyperprune's sparse engine in a plain PyTorch training loop: your model, your optimiser, your loop.

    python examples/own_loop_sparse.py            # a 2x64 nn.LSTM LM on 40k PTB tokens, recurrent weights 67% sparse, 4 epochs
    python examples/own_loop_sparse.py --quick    # seconds (what the test suite runs)

The engine owns the masks: `apply()` draws them once, `after_backward()` records what growth needs,
`after_step(optimizer)` puts pruned weights (and the optimiser's state for them) back to exactly 0
after every step, and `end_of_epoch(epoch, optimizer)` prunes and regrows (Selfish-RNN style:
magnitude death, random growth, cosine-decayed death rate). At the end the sparse model's
Lyapunov spectrum is compared with a dense twin's, as LSH would rank it.
Data: PTB from $HYPERPRUNE_DATA/ptb, else a tiny built-in text.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from word_corpus import LSTMLM, batchify, load_words, perplexity, train_one_epoch

import hyperprune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--sparsity", type=float, default=0.67)
    parser.add_argument("--quick", action="store_true", help="a tiny run: 2 epochs, a small model")
    args = parser.parse_args()
    torch.set_num_threads(1)           # a small model: one core is as fast, and kinder to a shared machine
    size, tokens = (16, 4000) if args.quick else (64, 40000)
    epochs = 2 if args.quick else args.epochs

    train_ids, valid_ids, vocab, source = load_words(tokens, tokens // 6)
    train, valid = batchify(train_ids, 20), batchify(valid_ids, 10)
    print(f"data: {source}, {train_ids.numel()} training tokens, vocabulary {vocab}")
    torch.manual_seed(0)
    model = LSTMLM(vocab, size=size)
    dense = copy.deepcopy(model)

    # Any nn.Module: its weight matrices are found by what they are (embedding, recurrent, other).
    engine = hyperprune.sparse_engine(model, args.sparsity, epochs=epochs, steps_per_epoch=len(train) // 35 + 1,
                                      masked=["recurrent"], death="magnitude", growth="random",
                                      death_rate=0.5, death_rate_schedule="cosine")
    engine.apply()
    print("masked:", ", ".join(f"{name} {tuple(w.shape)}" for name, w in engine.params.items()))

    start = time.perf_counter()
    for epoch in range(1, epochs + 1):                   # the engine counts finished epochs from 1
        train_one_epoch(model, train, lr=20.0, engine=engine)
        train_one_epoch(dense, train, lr=20.0)
        ppl = perplexity(model, valid)                    # validate first: the update disturbs the weights
        update = engine.end_of_epoch(epoch, None)
        moved = f", {update['regrown_new']} weights regrown" if update else ""
        print(f"epoch {epoch}: valid ppl sparse {ppl:.1f}, dense {perplexity(dense, valid):.1f}{moved}")

    summary = engine.summary()
    print(f"sparsity of the masked weights: {summary['sparsity']:.3f} "
          f"({summary['masked_nonzero']} of {summary['masked_total']} kept); FLOPs per token "
          f"{summary['flops_per_token']['sparse']} sparse vs {summary['flops_per_token']['dense']} dense")
    zero = sum(int((w == 0).sum()) for w in engine.params.values())
    print(f"exact zeros in the masked weights: {zero}")

    probe = hyperprune.make_probe(valid_ids, n_sequences=2, length=35, warmup=10)
    sparse_spectrum = hyperprune.spectrum(model, probe, convention="reference")
    dense_spectrum = hyperprune.spectrum(dense, probe, convention="reference")
    print(f"largest exponents (log2/step): sparse {sparse_spectrum.mean[0]:.3f}, dense {dense_spectrum.mean[0]:.3f}; "
          f"LS distance {hyperprune.distance('l2', sparse_spectrum, dense_spectrum):.3f} "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
