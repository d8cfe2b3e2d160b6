"""A plain nn.LSTM language model in your own Optuna study, pruned by the Lyapunov-spectrum distance.

    python examples/own_lstm_optuna.py                        # LSH rounds: hyperprune.LSHPruner
    python examples/own_lstm_optuna.py --pruner hyperband     # Optuna's own pruner, same distance
    python examples/own_lstm_optuna.py --quick                # seconds (what the test suite runs)

Every trial trains the same LSTM LM with its recurrent weights 67% sparse, under a pruning recipe
(death and growth rule, death rate) and learning rate chosen by TPE. After each epoch it reports the
distance of its Lyapunov spectrum to the *dense* model's spectrum after the same epoch
(Zheng & Shlizerman 2025, arXiv 2506.07975); the pruner stops the trials that drift away. Trials
that survive train to the end and return their validation perplexity, which picks the winner.

With LSHPruner the trials run side by side (n_jobs = trials) and wait at each epoch for the others,
so every round is decided over all of them, as in the paper. Data: PTB from $HYPERPRUNE_DATA/ptb,
else a tiny built-in text. The dense spectra are cached in --cache: a second run trains no dense model.
"""

from __future__ import annotations

import argparse
import threading
import time

import optuna
import torch
from word_corpus import LSTMLM, batchify, load_words, perplexity, train_one_epoch

import hyperprune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pruner", choices=["lsh", "hyperband", "percentile"], default="lsh")
    parser.add_argument("--cache", default=".hyperprune-cache", help="folder for the dense spectra")
    parser.add_argument("--quick", action="store_true", help="a tiny run: 4 trials, 2 epochs, a small model")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.epochs = 4, 2
    size, tokens = (16, 4000) if args.quick else (64, 30000)

    train_ids, valid_ids, vocab, source = load_words(tokens, tokens // 6)
    train, valid = batchify(train_ids, 20), batchify(valid_ids, 10)
    print(f"data: {source}, {train_ids.numel()} training tokens, vocabulary {vocab}")
    torch.set_num_threads(1)           # trials run in threads: one core each

    # The fixed windows every spectrum is measured on (the paper's: 2 sequences, 35 tokens, 10 warm-up).
    probe = hyperprune.make_probe(valid_ids, n_sequences=2, length=35, warmup=10)

    def new_model(seed: int) -> LSTMLM:
        torch.manual_seed(seed)
        return LSTMLM(vocab, size=size)

    start = time.perf_counter()
    dense = hyperprune.dense_reference(
        new_model(0), probe, epochs=args.epochs, cache=args.cache,
        train_epoch=lambda model, epoch: train_one_epoch(model, train, lr=20.0))
    print(f"dense reference: epochs {dense.epochs} ({time.perf_counter() - start:.1f} s, {dense.path})")

    init_lock = threading.Lock()       # torch's global seed is shared by the threads

    def objective(trial: optuna.Trial) -> float:
        death = trial.suggest_categorical("death", ["magnitude", "SET-signed", "global_magnitude"])
        growth = trial.suggest_categorical("growth", ["random", "gradient"])
        death_rate = trial.suggest_float("death_rate", 0.3, 0.8, step=0.1)
        lr = trial.suggest_float("lr", 5.0, 40.0, log=True)
        with init_lock:
            model = new_model(0)       # the dense model's initial weights: only the recipe differs
        engine = hyperprune.sparse_engine(model, 0.67, epochs=args.epochs, steps_per_epoch=len(train) // 35 + 1,
                                          seed=trial.number, masked=["recurrent"], death=death,
                                          growth=growth, death_rate=death_rate)
        engine.apply()
        for epoch in range(args.epochs):
            train_one_epoch(model, train, lr=lr, engine=engine)
            # Measured before the epoch's prune/regrow, as the paper's code does (it saves each
            # epoch's model before the mask update and measures that file).
            distance = hyperprune.spectrum_distance(model, dense, probe, epoch=epoch)
            engine.end_of_epoch(epoch + 1, None)
            trial.report(distance, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return perplexity(model, valid)

    if args.pruner == "lsh":
        pruner = hyperprune.LSHPruner(n_trials=args.trials, first_step=0, round_every=1, finalists=2,
                                      wait=600, poll_interval=0.1)
        n_jobs = args.trials           # every member of the pool at once, so rounds fill while trials wait
    elif args.pruner == "hyperband":
        pruner, n_jobs = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=args.epochs), 1
    else:
        pruner, n_jobs = optuna.pruners.PercentilePruner(50.0, n_startup_trials=2), 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", pruner=pruner,
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=args.trials, n_jobs=n_jobs)

    print(f"\n{'trial':>5}  {'state':8}  {'distance by epoch':30}  {'valid ppl':>9}  params")
    for t in sorted(study.trials, key=lambda t: t.number):
        distances = " ".join(f"{v:.3f}" for _, v in sorted(t.intermediate_values.items()))
        ppl = f"{t.value:9.1f}" if t.state == optuna.trial.TrialState.COMPLETE else " " * 9
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
        print(f"{t.number:5d}  {t.state.name:8}  {distances:30}  {ppl}  {params}")
    best = study.best_trial
    epochs_run = sum(len(t.intermediate_values) for t in study.trials)
    print(f"\nwinner: trial {best.number}, valid ppl {best.value:.1f}; {epochs_run} of "
          f"{args.trials * args.epochs} epochs trained ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
