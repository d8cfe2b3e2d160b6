"""What a search ran on, for the top of the report: a title in words and a context block.

From RUN_DIR/context.json (written by the search when it starts: tokens as read, parameters, masked
tensors, device, threads, version), else from the config inside results.json (then tokens and
parameters read "not recorded"). Also the ties that decided a round, as the search warned of them.
"""

from __future__ import annotations

import html

from hyperprune import __version__
from hyperprune.lyapunov.conventions import CONVENTIONS
from hyperprune.lyapunov.display import exponent_unit
from hyperprune.run_files import CONTEXT_NAME
from hyperprune.search.search_results import SearchResults, number
from hyperprune.search.strategies import strategy_title
from hyperprune.search.ties import describe_tie, round_ties

METRIC_WORDS = {"ls": "their Lyapunov-spectrum distance to the dense model", "loss": "their validation perplexity"}


def convention_of(results: SearchResults) -> str:
    """The spectra's convention: the config's, else the search's default (reference)."""
    lyap = results.config.get("lyapunov") if isinstance(results.config.get("lyapunov"), dict) else {}
    name = lyap.get("convention") or "reference"
    return name if name in CONVENTIONS else "reference"


def spectrum_unit(results: SearchResults) -> str:
    return exponent_unit(CONVENTIONS[convention_of(results)].log_base)


def _model_words(results: SearchResults, context: dict | None) -> str:
    if context:
        m = context["model"]
        family = (m.get("family") or "").upper().replace("AWD-LSTM", "AWD-LSTM")
        return f"a {m.get('num_layers')}-layer {family} ({m.get('parameters'):,} parameters)"
    model = results.config.get("model") if isinstance(results.config.get("model"), dict) else {}
    name = model.get("preset") or model.get("family")
    return f"model {name}" if name else "the model"


def _sparsity(results: SearchResults, context: dict | None) -> float | None:
    if context:
        return context["sparsity"]["sparsity"]
    sparse = results.config.get("sparse") if isinstance(results.config.get("sparse"), dict) else {}
    return number(sparse.get("sparsity"))


def title(results: SearchResults, context: dict | None) -> str:
    """What the search did, in one sentence."""
    n = len(results.candidates)
    sparsity = _sparsity(results, context)
    at = f" at {sparsity:.0%} sparsity" if sparsity else ""
    ranked = METRIC_WORDS.get(results.metric, results.metric)
    rounds = len(results.rounds)
    how = f"ranked by {ranked}" + (f" over {rounds} round{'s' if rounds != 1 else ''}" if rounds else "")
    if results.winner is not None:
        w = results.winner
        ppl = number(w.get("valid_ppl"))
        outcome = f"candidate {w.get('id')} won" + (f" (valid ppl {ppl:.2f})" if ppl is not None else "")
    elif results.running:
        outcome = results.unfinished
    else:
        outcome = "no winner"
    return (f"{strategy_title(results.strategy)}: {n} pruned variants of "
            f"{_model_words(results, context)}{at}, {how}; {outcome}")


def context_rows(results: SearchResults, context: dict | None) -> list[tuple[str, str]]:
    cfg = results.config
    search = {**(context["search"] if context else {}),
              **(cfg.get("search") if isinstance(cfg.get("search"), dict) else {})}
    train = cfg.get("train") if isinstance(cfg.get("train"), dict) else {}
    final = search.get("final_epochs") or train.get("epochs")
    done_rounds = ", ".join(f"{r['round']} at epoch {r['epoch']}: {len(r.get('candidates') or [])} -> "
                            f"{len(r['kept']) if r.get('kept') is not None else '?'}" for r in results.rounds)
    rows = []
    if context:
        s = context["search"]
        rows += [
            ("data", context["data"]["line"]),
            ("model", context["model"]["line"]),
            ("sparsity", context["sparsity"]["line"]),
            ("masked tensors", ", ".join(f"{name} ({'x'.join(map(str, shape))})"
                                         for name, shape in context["sparsity"]["masked_tensors"].items())
             or "none"),
            ("search", f"{s['strategy']} on {s['metric']}, {s['n_candidates']} candidates from the {s['sampler']} "
                       f"sampler, varying {', '.join(s['varied'])}"),
        ]
    else:
        data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
        rows += [("data", f"{data.get('name', '?')} (tokens not recorded: no {CONTEXT_NAME})"),
                 ("model", f"{_model_words(results, None)} (parameters not recorded)"),
                 ("sparsity", f"{_sparsity(results, None):.0%}" if _sparsity(results, None) else "not recorded"),
                 ("search", f"{results.strategy} on {results.metric}, {len(results.candidates)} candidates")]
    e0 = search.get("first_epoch", results.first_epoch)
    rows += [
        ("epochs", f"e0 {e0}, +{search.get('epochs_per_round', '?')} per round, finalists trained to "
                   f"{final if final is not None else '?'}"),
        ("rounds", done_rounds or "none yet"),
        ("spectrum", f"{convention_of(results)} convention, exponents in {spectrum_unit(results)}"
                     + (f", distance {context['lyapunov']['distance']}" if context else "")),
        ("seed", str(context["seed"] if context else cfg.get("seed", "not recorded"))),
        ("device", f"{context['device']}, {context['threads']} thread(s)" if context else "not recorded"),
        ("hyperprune", (f"{context['hyperprune_version']} (search), " if context else "") + f"{__version__} (report)"),
    ]
    return rows


def render_context(rows: list[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    return f'<dl class="context" id="context">{items}</dl>'


def tie_notes(results: SearchResults) -> list[str]:
    """One line per tie that decided a round (the search printed the same warning)."""
    notes = []
    for r in results.rounds:
        if r.get("kept") is None or not r.get("scores"):
            continue
        notes += [f"Tie: {describe_tie(t)}" for t in round_ties(r)]
    return notes
