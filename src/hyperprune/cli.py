"""The `hyperprune` command. Thin: it parses arguments and calls the layers below."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from hyperprune.errors import UserError
from hyperprune.run_files import RESULTS_NAME, read_log, results_path, write_context

# Idle OpenMP threads sleep instead of spinning: on a CPU shared with other jobs (or with search
# workers), spinning threads starve the ones doing work (measured 20x on the Lyapunov benchmark).
# Must be set before torch loads; a value the user exported wins. This is why each command imports
# the layers it calls inside its function: nothing above may load torch before this line runs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _percent(text: str) -> float:
    """A share of an epoch in (0, 100]: argparse prints the one-line usage error."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage of an epoch; allowed: more than 0, "
                                         f"at most 100")
    return value


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="folder holding ptb/, wikitext-2/, tinyshakespeare/; it must hold the corpus "
                             "(without it: $HYPERPRUNE_DATA, ~/.cache/hyperprune, then download)")


def _add_tensorboard(parser: argparse.ArgumentParser, runs: str) -> None:
    parser.add_argument("--tensorboard", metavar="DIR",
                        help=f"also log every epoch's numbers for TensorBoard, one run per model ({runs}); "
                             f'needs pip install "hyperprune[tensorboard]"')


def cmd_data(args: argparse.Namespace) -> int:
    from hyperprune.data import corpus_stats, load_corpus
    from hyperprune.data.config import DataConfig
    from hyperprune.config import from_dict

    fields = {"name": args.name, "data_dir": args.data_dir}
    if args.path:
        fields.update(name="custom", path=args.path)
    if args.level:
        fields["level"] = args.level
    stats = corpus_stats(load_corpus(from_dict(DataConfig, fields, "data")))
    if args.json:
        print(json.dumps(stats))
    else:
        for key, value in stats.items():
            print(f"{key:>13}: {value:,}")
    return 0


def _run_config(path: str, overrides: list[str], args: argparse.Namespace):
    from hyperprune import config
    from hyperprune.train.config import RunConfig

    extra = []
    if getattr(args, "data_dir", None):
        extra.append(f"data.data_dir={args.data_dir}")
    if getattr(args, "device", None):
        extra.append(f"device={args.device}")
    if getattr(args, "run_dir", None):
        extra.append(f"run_dir={args.run_dir}")
    return config.load(RunConfig, path, [*overrides, *extra])


def _logs_on_stderr(json_output: bool):
    """With --json, stdout carries only the JSON: every log line goes to stderr."""
    import contextlib
    return contextlib.redirect_stdout(sys.stderr) if json_output else contextlib.nullcontext()


def cmd_train(args: argparse.Namespace) -> int:
    from hyperprune.config import to_dict
    from hyperprune.train import Trainer, write_summary
    from hyperprune.train.banner import train_banner
    from hyperprune.files import atomic_write_text, run_dir_lock, writable_run_dir
    from hyperprune.train import TrainingDiverged
    from hyperprune.train.provenance import provenance, record_end
    from hyperprune.train.tensorboard import summary_writer_class, tensorboard_mirror
    import yaml

    cfg = _run_config(args.config, args.overrides, args)
    with _logs_on_stderr(args.json):
        if args.dry_run:
            from hyperprune.files import check_run_dir
            from hyperprune.train.dry_run import describe_train_plan, time_steps, train_plan
            check_run_dir(cfg.run_dir)                  # what the real run would refuse
            if args.tensorboard:
                summary_writer_class()                  # what the real run would refuse
            trainer = Trainer(cfg, cfg.run_dir, verbose=False, progress=False)   # reads, never writes
            print(yaml.safe_dump(to_dict(trainer.cfg), sort_keys=False).rstrip())
            print(train_banner(trainer), flush=True)
            plan = train_plan(trainer, time_steps(trainer, say=lambda line: print(line, flush=True)))
            print(describe_train_plan(plan))
            result = {"dry_run": True, "config": to_dict(trainer.cfg), **plan}
        else:
            run_dir = writable_run_dir(cfg.run_dir)
            start = time.perf_counter()
            mirror = tensorboard_mirror(args.tensorboard, lambda entry: run_dir.resolve().name)
            with run_dir_lock(run_dir, "train"), mirror:     # one process per run directory, as search
                trainer = Trainer(cfg, run_dir, progress_every=args.progress_every / 100)
                atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(to_dict(trainer.cfg), sort_keys=False))
                write_context(run_dir, provenance(args.config))
                print(train_banner(trainer), flush=True)
                mirror.update(read_log(run_dir))             # a resumed run's epochs so far
                try:
                    trainer.train(on_epoch=lambda trainer, record: mirror.update(read_log(run_dir)))
                except TrainingDiverged as exc:
                    kept = f"checkpoints up to epoch {trainer.epoch} are kept" if trainer.epoch else "nothing was saved"
                    raise UserError(f"training diverged: {exc}; lower train.lr (now {trainer.lr:g}) or set "
                                    f"train.clip; {kept}") from None
                result = write_summary(trainer, time.perf_counter() - start)
                record_end(run_dir)
            print(f"valid ppl {result['valid_ppl']:.2f} | test ppl {result['test_ppl']:.2f} | "
                  f"{result['params_nonzero']:,}/{result['params_total']:,} nonzero parameters | "
                  f"summary: {run_dir / 'summary.json'}")
    if args.json:
        print(json.dumps(result))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from hyperprune.perplexity import perplexity
    from hyperprune.train import evaluate_model, resolve_device

    device = resolve_device(args.device)
    cfg, model, payload, corpus = _trained_with_corpus(args, device)
    result = {"checkpoint": str(args.checkpoint), "epoch": payload["epoch"]}
    numbers = evaluate_model(cfg, model, corpus, device)
    for split in ("valid", "test"):
        result[f"{split}_ppl"] = perplexity(numbers[f"{split}_loss"], split)
        result[f"{split}_tokens"] = int(getattr(corpus, split).numel())
        result[f"{split}_tokens_limit"] = getattr(cfg.data, f"{split}_tokens")
    # A sparse run's training checkpoint is saved after the epoch's prune/regrow (none follows the last
    # epoch), while the validation in its log ran before it: the two perplexities differ a little, and
    # both are right. A kept best-validation state is the pre-update model itself.
    result["after_mask_update"] = bool(cfg.sparse.enabled and not payload.get("evaluation_state")
                                       and payload["epoch"] < cfg.train.epochs)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"epoch {result['epoch']} | valid ppl {result['valid_ppl']:.2f} | test ppl {result['test_ppl']:.2f}")
        print("tokens: " + "; ".join(_tokens_used(split, result) for split in ("valid", "test")))
        if result["after_mask_update"]:
            print(f"note: the checkpoint holds epoch {result['epoch']}'s weights after its prune/regrow; the "
                  f"run's log measured validation before it, so its valid ppl differs slightly")
    return 0


def _tokens_used(split: str, result: dict) -> str:
    limit = result[f"{split}_tokens_limit"]
    if limit is None:
        return f"{split}: all {result[f'{split}_tokens']:,}"
    return (f"{split}: the first {result[f'{split}_tokens']:,} (data.{split}_tokens={limit}; "
            f"data.{split}_tokens=null for all)")


def _one_model(name: str, command: str) -> Path:
    """`name` as a path to one trained model: a .pt file or a run directory, not a whole search."""
    path = Path(name)
    if not path.exists():
        raise UserError(f"checkpoint '{path}' does not exist; give a .pt file or a run directory")
    searched = any((path / name).is_file() for name in ("search.yaml", RESULTS_NAME))
    if path.is_dir() and not (path / "checkpoints").is_dir() and searched:
        winner = path / "winner"
        when = "" if winner.is_dir() else " (it appears when the search has finished)"
        raise UserError(f"'{path}' is a search's run directory, which holds many models; its winner is in "
                        f"'{winner}'{when}: hyperprune {command} {winner}")
    return path


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def cmd_export(args: argparse.Namespace) -> int:
    from hyperprune.files import writable_output
    from hyperprune.train.saved_model import export_model

    path = _one_model(args.path, args.command)
    if args.out:
        out = writable_output(args.out, "--out")
    else:
        name = "model.safetensors" if args.format == "dense" else "model.sparse.safetensors"
        out = path / name if path.is_dir() else path.with_suffix("." + name.split(".", 1)[1])
    exported = export_model(path, out, args.format)
    result = {"path": str(exported.path), "format": exported.format, "bytes": exported.bytes_written,
              "dense_bytes": exported.dense_bytes, "masked_kept": exported.masked_kept,
              "masked_total": exported.masked_total}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"wrote {exported.path} ({exported.format}): {_size(exported.bytes_written)} on disk; "
          f"dense {_size(exported.dense_bytes)}")
    if exported.masked_total:
        print(f"masked matrices: {exported.masked_kept:,} of {exported.masked_total:,} weights stored "
              f"({1 - exported.masked_kept / exported.masked_total:.0%} pruned); "
              f"load it with hyperprune.load_model('{exported.path}')")
    return 0


def _trained_with_corpus(args: argparse.Namespace, device):
    """(config, model, checkpoint payload, corpus) for the checkpoint or run directory named in args."""
    from hyperprune.data import load_corpus
    from hyperprune.train import load_trained

    path = _one_model(args.checkpoint, args.command)
    cfg, model, payload = load_trained(path, device)
    cfg.data = _data_overrides(cfg.data, getattr(args, "overrides", None) or [])
    if args.data_dir:
        cfg.data.data_dir = args.data_dir
    corpus = load_corpus(cfg.data)
    if len(corpus.vocab) != payload["vocab_size"]:
        raise UserError(f"checkpoint '{path}' was trained on a vocabulary of {payload['vocab_size']:,} words, "
                        f"but the corpus read now has {len(corpus.vocab):,}; give the --data-dir it was trained on")
    return cfg, model, payload, corpus


def _data_overrides(data_cfg, overrides: list[str]):
    """The trained model's data settings with `data.KEY=VALUE` overrides (which tokens to evaluate
    on); anything else would describe another model."""
    from hyperprune.config import from_dict, merge, parse_overrides, to_dict
    from hyperprune.data.config import DataConfig

    nested = parse_overrides(overrides)
    other = [key for key in nested if key != "data"]
    if other:
        raise UserError(f"evaluate takes data.KEY=VALUE overrides only (which tokens to evaluate on), got "
                        f"'{other[0]}'; the model's other settings are the checkpoint's")
    return from_dict(DataConfig, merge(to_dict(data_cfg), nested.get("data", {})), "data") if nested else data_cfg


def cmd_spectrum(args: argparse.Namespace) -> int:
    from hyperprune.lyapunov import make_probe, model_spectrum, plot_spectrum, spectrum_report
    from hyperprune.files import atomic_write_text, writable_output
    from hyperprune.train import resolve_device

    for option, target in (("--json", args.json), ("--plot", args.plot)):
        if target:
            writable_output(target, option)      # before minutes of work, not after
    device = resolve_device(args.device)
    cfg, model, payload, corpus = _trained_with_corpus(args, device)
    probe = make_probe(corpus.valid, n_sequences=args.sequences, length=args.length, seed=args.seed,
                       warmup=args.warmup, mode=args.probe)
    result = model_spectrum(model, probe, convention=args.convention, k=args.k)
    print(f"{args.checkpoint} (epoch {payload['epoch']})")
    print(spectrum_report(result))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        plot_spectrum(result, args.plot, title=f"{Path(args.checkpoint).name}, epoch {payload['epoch']}: {result.convention} convention")
        print(f"wrote {args.plot}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from hyperprune.report import write_comparison, write_report

    if args.run_b:
        compared = write_comparison(args.run_dir, args.run_b, args.out)
        state = "partial comparison" if compared.partial else "comparison"
        print(f"{state}: {compared.index} ({len(compared.tables)} table files, all in {compared.json.name})")
        return 0
    files = write_report(args.run_dir, args.out)
    state = f"partial report, search {files.unfinished}" if files.partial else "report"
    print(f"{state}: {files.index} ({len(files.figures)} figures, {len(files.tables)} table files)")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from hyperprune.search import load_search_config, run_search

    extra = [f"data.data_dir={args.data_dir}"] if args.data_dir else []
    extra += [f"run_dir={args.run_dir}"] if args.run_dir else []
    cfg = load_search_config(args.config, [*args.overrides, *extra])
    with _logs_on_stderr(args.json):
        if args.dry_run:
            from hyperprune.search.dry_run import dry_run
            if args.tensorboard:
                from hyperprune.train.tensorboard import summary_writer_class
                summary_writer_class()                  # what the real run would refuse
            results = dry_run(cfg, device=args.device, timing=not args.no_timing)
        else:
            results = run_search(cfg, device=args.device, verbose=not args.quiet, source=args.config,
                                 tensorboard=args.tensorboard).to_dict()
    if args.json:
        print(json.dumps(results))
    if results.get("status") == "complete" and results.get("winner") is None:
        print(f"hyperprune: error: the search has no winner: every candidate failed; see "
              f"{results_path(cfg.run_dir)}", file=sys.stderr)
        return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from hyperprune.status import describe_status, run_status

    status = run_status(args.run_dir)
    print(json.dumps(status) if args.json else describe_status(status))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from hyperprune.search import run_worker

    run_worker(args.storage, args.study, device=args.device, verbose=not args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyperprune",
                                     description="Lyapunov-spectrum-based hyperpruning of recurrent networks.",
                                     epilog=_epilog("hyperprune"), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do; 'hyperprune COMMAND --help' explains each")

    p = sub.add_parser("data", help="load a corpus and print its token and vocabulary counts")
    p.add_argument("name", help="ptb | wikitext-2 | tinyshakespeare | custom")
    p.add_argument("--path", help="folder with train.txt, valid.txt, test.txt (for custom data)")
    p.add_argument("--level", choices=["word", "char"], help="tokens are words or characters (default: the corpus's)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_data_dir(p)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train one model from a YAML config (resumes an existing run directory)")
    p.add_argument("config", help="YAML run config: data, model, train, sparse, seed, device, run_dir")
    p.add_argument("overrides", nargs="*", help="dotted key=value settings, e.g. train.epochs=3")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: the config's, auto)")
    p.add_argument("--run-dir", help="where checkpoints and summary.json go")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout; logs go to stderr")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved config, the plan and a time estimate from 20 timed steps; "
                        "train and write nothing")
    p.add_argument("--progress-every", type=_percent, default=10.0, metavar="PERCENT",
                   help="off a terminal, print a progress line every PERCENT of an epoch (default 10)")
    _add_tensorboard(p, "DIR/NAME, NAME the run directory's name")
    _add_data_dir(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="validation and test perplexity of a checkpoint or run directory")
    p.add_argument("checkpoint", help="a .pt checkpoint or a run directory (its newest checkpoint)")
    p.add_argument("overrides", nargs="*", help="data.KEY=VALUE: other tokens, e.g. data.test_tokens=null for "
                                                "the whole test split of a run trained on a slice")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("spectrum", help="Lyapunov spectrum of a trained checkpoint: table, JSON and plot")
    p.add_argument("checkpoint", help="a .pt checkpoint or a run directory")
    p.add_argument("--k", type=int, default=None,
                   help="leading exponents to compute (default: all); needs --convention standard, whose "
                        "random frame finds the leading ones")
    # The search's convention (lyapunov.convention), so a spectrum printed here is the one it compared.
    p.add_argument("--convention", default="reference",
                   help="reference (the LSH paper's and the search's, the default: hidden states, log2) | "
                        "standard (the whole state, ln, a random frame)")
    p.add_argument("--sequences", type=int, default=2, help="validation windows (default 2, the paper's)")
    p.add_argument("--length", type=int, default=35, help="measured tokens per window (default 35)")
    p.add_argument("--warmup", type=int, default=10, help="warm-up tokens (default 10)")
    p.add_argument("--probe", default="first", help="first | random windows of the validation split")
    p.add_argument("--seed", type=int, default=0, help="seed of the random probe windows (default 0)")
    p.add_argument("--json", help="write the full result (exponents and every setting) here")
    p.add_argument("--plot", help="write a PNG plot of the spectrum here")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    _add_data_dir(p)
    p.set_defaults(func=cmd_spectrum)

    p = sub.add_parser("export", help="write a trained model as safetensors: masked matrices as index/value "
                                      "pairs (sparse) or whole (dense), with its vocabulary and config")
    p.add_argument("path", help="a .pt checkpoint, a run directory or a search's winner (RUN_DIR/winner)")
    p.add_argument("--format", choices=["sparse", "dense"], default="sparse",
                   help="sparse (default): masked matrices as index/value pairs; dense: every tensor whole")
    p.add_argument("--out", help="the file to write (default: PATH/model.sparse.safetensors, or "
                                 "model.safetensors with --format dense)")
    p.add_argument("--json", action="store_true", help="print the path and sizes as JSON")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="write RUN_DIR/report/index.html: figures and tables of a search; "
                                      "with two run directories, a page comparing them")
    p.add_argument("run_dir", help="a search's run directory (holds results.json)")
    p.add_argument("run_b", nargs="?", metavar="RUN_B",
                   help="a second search to compare with the first, side by side: winner, dense, cost, rounds")
    p.add_argument("--out", help="where to write the report (default: RUN_DIR/report; with RUN_B: "
                                 "RUN_DIR/compare-NAME, NAME RUN_B's folder name)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("search", help="run or resume a hyperpruning search (re-run the same command to resume)")
    p.add_argument("config", help="YAML search config: the run sections plus search and lyapunov")
    p.add_argument("overrides", nargs="*", help="dotted key=value settings, e.g. search.n_candidates=8")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: the config's, auto)")
    p.add_argument("--run-dir", help="where results.json, the study and the checkpoints go")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.add_argument("--json", action="store_true", help="print results.json on stdout; logs go to stderr")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved config, the planned rounds and cost, and a time estimate from "
                        "20 timed steps (or about 60 s) and one spectrum; train and write nothing")
    _add_tensorboard(p, "DIR/dense, DIR/candidate-0003, ...")
    p.add_argument("--no-timing", action="store_true",
                   help="with --dry-run: print the plan at once, without timing anything (also for a device "
                        "this machine does not have)")
    _add_data_dir(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("status", help="where a train or search run stands: done, running, best so far, ETA")
    p.add_argument("run_dir", help="a train or search run directory")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("worker", help="join a search on shared storage (PostgreSQL, MySQL, journal file)")
    p.add_argument("--storage", required=True, help="the search's storage URL, e.g. postgresql://user@host/db")
    p.add_argument("--study", required=True, help="the search's study name (search.study_name)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: the search config's)")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(func=cmd_worker)

    for name, command in sub.choices.items():
        command.epilog = _epilog(name)
        command.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


# Shown at the end of each command's --help: what a new user most likely wants to type.
EXAMPLES = {
    "hyperprune": ["hyperprune train configs/quick-ptb.yaml train.epochs=3",
                   "hyperprune search configs/demo.yaml",
                   "hyperprune COMMAND --help"],
    "data": ["hyperprune data ptb",
             "hyperprune data custom --path corpora/mine --level char --json"],
    "train": ["hyperprune train configs/quick-ptb.yaml",
              "hyperprune train configs/quick-ptb.yaml train.epochs=3 sparse.sparsity=0.67 --device cpu",
              "hyperprune train configs/lstm-small-ptb.yaml --run-dir runs/small   # re-run to resume"],
    "evaluate": ["hyperprune evaluate runs/small",
                 "hyperprune evaluate runs/demo/winner data.test_tokens=null --json   # the whole test split",
                 "hyperprune evaluate runs/small/checkpoints/epoch-0003.pt --device cpu"],
    "spectrum": ["hyperprune spectrum runs/small --convention standard --k 10",
                 "hyperprune spectrum runs/demo/winner --convention reference --json ls.json --plot ls.png"],
    "export": ["hyperprune export runs/demo/winner --format sparse",
               "hyperprune export runs/small --format dense --out small.safetensors"],
    "report": ["hyperprune report runs/demo",
               "hyperprune report runs/demo --out /tmp/demo-report",
               "hyperprune report runs/demo runs/demo-loss   # two searches side by side"],
    "search": ["hyperprune search configs/demo.yaml",
               "hyperprune search configs/demo.yaml search.metric=loss run_dir=runs/demo-loss",
               "hyperprune search configs/demo.yaml --device cuda search.n_candidates=16"],
    "status": ["hyperprune status runs/demo",
               "hyperprune status runs/small --json"],
    "worker": ["hyperprune worker --storage postgresql://hp@db-host/hyperprune --study lstm-medium-ptb",
               "hyperprune worker --storage journal:///shared/runs/demo/study.log --study demo --device cuda:1"],
}


def _epilog(command: str) -> str | None:
    lines = EXAMPLES.get(command)
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("hyperprune")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """argparse hands `overrides` only the key=value words before the first option; the words after
    one (`search cfg.yaml --device cpu a=b`) come back unrecognised and are overrides too."""
    args, rest = parser.parse_known_args(argv)
    if rest:
        if not isinstance(getattr(args, "overrides", None), list) or any(word.startswith("-") for word in rest):
            parser.parse_args(argv)          # argparse's own one-line usage error, exit 2
        args.overrides += rest
    return args


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the user reads it: one line, without the source path and code line Python adds."""
    print(f"hyperprune: warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def _silence_stdout() -> None:
    """After a closed pipe (`hyperprune ... | head`) the interpreter's final flush would fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # stdout without a file descriptor (captured)
        pass


class Terminated(KeyboardInterrupt):
    """SIGTERM, as a cluster scheduler sends it on pre-emption: raised where Ctrl-C's KeyboardInterrupt
    would be, so the same clean-up runs (a search gives its job back, locks are released)."""


def _terminated(signum, frame) -> None:
    raise Terminated()


# Commands whose interrupted work continues when the same command runs again.
RESUMABLE = ("train", "search", "worker")


def _interrupted(args: argparse.Namespace) -> str:
    """The Ctrl-C / SIGTERM line: only a real train, search or worker has work to resume."""
    if getattr(args, "dry_run", False):
        return "hyperprune: interrupted; a dry run writes nothing"
    if args.command in RESUMABLE:
        return "hyperprune: interrupted; run the same command to resume"
    return "hyperprune: interrupted"


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    parser = build_parser()
    args = _parse(parser, argv)
    if threading.current_thread() is not threading.main_thread():
        return _run(args)                           # only the main thread may set a signal handler
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)     # main() may be called in-process (tests, scripts)


def _run(args: argparse.Namespace) -> int:
    import warnings

    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            code = args.func(args)
            sys.stdout.flush()                   # a closed pipe shows here, not at interpreter exit
            return code
        except UserError as exc:
            print(f"hyperprune: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except BrokenPipeError:
            _silence_stdout()
            print("hyperprune: error: the output pipe was closed before all output was written "
                  "(e.g. by head)", file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            print(_interrupted(args), file=sys.stderr)
            return 143 if isinstance(exc, Terminated) else 130         # 128 + the signal, as a shell reports


if __name__ == "__main__":
    sys.exit(main())
