"""The report's figures, as PNG bytes: spectra per round (the LSH paper's Fig. 1-A), early signal
against final perplexity (Fig. 1-B, 1-C), the elimination bracket, and cost.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas directly, never pyplot: no
global state, no display, safe in a headless server or a worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hyperprune.report.context import convention_of, spectrum_unit
from hyperprune.report.early_signals import EarlySignal
from hyperprune.report.tables import Table
from hyperprune.search.search_results import SearchResults, by_epoch, number
from hyperprune.search.seed_noise import mean_interval

DENSE_COLOUR = "black"
STATUS_COLOURS = {"winner": "#d62728", "finalist": "#ff7f0e", "eliminated": "#7f7f7f",
                  "running": "#1f77b4", "failed": "#9467bd", "duplicate": "#bcbd22"}


@dataclass
class ReportFigure:
    name: str          # file stem: NAME.png
    title: str
    png: bytes
    caption: str = ""


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100, bbox_inches="tight")
    return out.getvalue()


def _spectrum(values) -> list[float] | None:
    if not isinstance(values, list) or not values:
        return None
    floats = [number(v) for v in values]
    # -inf exponents (a singular Jacobian) cannot be drawn; leave gaps rather than drop the curve.
    return [v if v is not None else float("nan") for v in floats]


def _largest_first(values: list[float]) -> list[float]:
    """Exponents are stored in QR order (the paper's vector, for its distance); shown largest first,
    gaps (NaN) last."""
    return sorted(values, key=lambda v: (v != v, -v if v == v else 0.0))


def spectra_figures(results: SearchResults) -> tuple[list[ReportFigure], list[str]]:
    """One figure per scoring round: every candidate scored in it, and the dense model in black."""
    figures, notes = [], []
    rounds = results.rounds or [{"round": None, "epoch": e, "candidates": [c["id"] for c in results.candidates],
                                 "kept": None} for e in _spectra_epochs(results)]
    for r in rounds:
        epoch = int(r["epoch"])
        kept = set(map(str, r.get("kept") or [])) if r.get("kept") is not None else None
        fig = Figure(figsize=(7.5, 4.2))
        ax = fig.add_subplot()
        drawn = 0
        for cid in map(str, r.get("candidates", [])):
            c = results.candidate(cid)
            values = _spectrum(by_epoch(c.get("spectra"), epoch)) if c else None
            if values is None:
                continue
            survived = kept is None or cid in kept
            values = _largest_first(values)
            outcome = "" if kept is None else (" kept" if survived else " out")
            ax.plot(range(1, len(values) + 1), values, lw=1.0 if survived else 0.8,
                    ls="-" if survived else "--", alpha=0.9 if survived else 0.45,
                    color=None if survived else STATUS_COLOURS["eliminated"],
                    label=f"candidate {cid}{outcome}")
            drawn += 1
        dense = _spectrum(by_epoch(results.dense.get("spectra"), epoch))
        if dense is not None:
            dense = _largest_first(dense)
            ax.plot(range(1, len(dense) + 1), dense, color=DENSE_COLOUR, lw=2.2, label=f"dense, epoch {epoch}",
                    zorder=5)
        if not drawn and dense is None:
            notes.append(f"epoch {epoch}: no spectra recorded")
            continue
        if dense is None:
            notes.append(f"epoch {epoch}: the dense spectrum is missing")
        ax.axhline(0.0, color="#cccccc", lw=0.8, zorder=0)
        ax.set_xlabel("exponent rank (largest first)")
        ax.set_ylabel(f"Lyapunov exponent ({spectrum_unit(results)})")
        where = f"Round {r['round']}: spectra" if r["round"] is not None else "Spectra (no round yet)"
        ax.set_title(f"{where} at epoch {epoch}")
        if drawn <= 16:
            where_short = f"round {r['round']}, epoch {epoch}" if r["round"] is not None else f"epoch {epoch}"
            ax.legend(fontsize=7, ncol=2, loc="lower left", title=where_short, title_fontsize=7)
        name = f"spectra_round{r['round']}_e{epoch}" if r["round"] is not None else f"spectra_e{epoch}"
        figures.append(ReportFigure(
            name, f"Spectra at round {r['round']} (epoch {epoch})" if r["round"] is not None
            else f"Spectra at epoch {epoch}",
            _png(fig), f"Each candidate's Lyapunov spectrum (dashed grey: eliminated in this round) and the "
                       f"dense model's (black), {convention_of(results)} convention, largest exponent first. "
                       f"The LSH paper's Fig. 1-A."))
    return figures, notes


def _spectra_epochs(results: SearchResults) -> list[int]:
    epochs = {int(e) for e in (results.dense.get("spectra") or {})}
    for c in results.candidates:
        epochs.update(int(e) for e in (c.get("spectra") or {}))
    return sorted(epochs)[:1]


def early_signal_figure(signal: EarlySignal, name: str, title: str,
                        statuses: dict[str, str]) -> ReportFigure | None:
    if not signal.ids:
        return None
    fig = Figure(figsize=(5.6, 4.4))
    ax = fig.add_subplot()
    colours = [STATUS_COLOURS.get(statuses.get(i, ""), "#1f77b4") for i in signal.ids]
    ax.scatter(signal.early, signal.final, c=colours, s=36, edgecolors="black", linewidths=0.4, zorder=3)
    for i, x, y in zip(signal.ids, signal.early, signal.final):
        ax.annotate(i, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set_xlabel(signal.label)
    ax.set_ylabel("final validation perplexity")
    corr = signal.correlation
    ax.set_title(f"{title}\n{corr.describe() if corr else ''}", fontsize=10)
    ax.grid(alpha=0.3)
    return ReportFigure(name, title, _png(fig), "Each point is a candidate trained to the full budget.")


def bracket_figure(results: SearchResults) -> ReportFigure | None:
    """Score against round for every candidate: a line ends where the candidate was eliminated."""
    if not results.rounds:
        return None
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    for c in results.candidates:
        cid = str(c["id"])
        xs, ys = [], []
        for r in results.rounds:
            score = number((r.get("scores") or {}).get(cid))
            if score is not None:
                xs.append(int(r["round"]))
                ys.append(score)
        if not xs:
            continue
        status = c.get("status", "")
        colour = STATUS_COLOURS.get(status, "#1f77b4")
        ax.plot(xs, ys, marker="o", ms=4, color=colour, alpha=0.85 if status != "eliminated" else 0.5, lw=1)
        if status == "eliminated":
            ax.plot(xs[-1], ys[-1], marker="x", color="black", ms=6)
        ax.annotate(cid, (xs[-1], ys[-1]), textcoords="offset points", xytext=(5, 0), fontsize=7)
    ax.set_xticks([int(r["round"]) for r in results.rounds],
                  [f"round {r['round']}\n(epoch {r['epoch']})" for r in results.rounds])
    ax.set_ylabel(f"score ({results.metric}; lower is better)")
    shown = [s for s in STATUS_COLOURS if any(c.get("status") == s for c in results.candidates)]
    handles = [Line2D([], [], color=STATUS_COLOURS[s], marker="o", ms=4, lw=1, label=s) for s in shown]
    handles.append(Line2D([], [], color="black", marker="x", ls="none", label="eliminated here"))
    ax.legend(handles=handles, fontsize=7, loc="best", title="candidate status", title_fontsize=7)
    ax.set_title("Elimination bracket: each candidate's score in each round", fontsize=10)
    ax.grid(alpha=0.3)
    return ReportFigure("bracket", "Elimination bracket", _png(fig))


def cost_figure(cost: Table) -> ReportFigure | None:
    rows = {r["quantity"]: r for r in cost.rows}
    pairs = [(q, rows[q]["this_search"], rows[q]["full_training_of_every_candidate"]) for q in ("epochs", "wall_s")]
    pairs = [(q, mine, full) for q, mine, full in pairs if mine is not None]
    if not pairs:
        return None
    fig = Figure(figsize=(3.2 * len(pairs) + 0.6, 3.6))
    for k, (quantity, mine, full) in enumerate(pairs, start=1):
        ax = fig.add_subplot(1, len(pairs), k)
        labels, values = ["this search"], [mine]
        if full is not None:
            labels.append("full training\nof every candidate")
            values.append(full)
        bars = ax.bar(labels, values, color=["#1f77b4", "#7f7f7f"][:len(values)])
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
        ax.set_title({"epochs": "epochs trained", "wall_s": "wall time (s)"}[quantity], fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    return ReportFigure("cost", "Cost", _png(fig), "; ".join(cost.notes))


def seed_figure(results: SearchResults) -> ReportFigure | None:
    """Strip plot (search.final_seeds > 1): each finished model's final validation ppl per seed, its
    mean and the 95% t interval of the mean; the dense model first, in black."""
    models = (results.seeds or {}).get("models") or {}
    if not models:
        return None
    names = (["dense"] if "dense" in models else []) + sorted((n for n in models if n != "dense"), key=int)
    statuses = {str(c["id"]): c.get("status", "") for c in results.candidates}
    fig = Figure(figsize=(1.1 * len(names) + 2.4, 4.0))
    ax = fig.add_subplot()
    for x, name in enumerate(names):
        values = [v for v in (number(p) for p in models[name].get("valid_ppl", [])) if v is not None]
        colour = DENSE_COLOUR if name == "dense" else STATUS_COLOURS.get(statuses.get(name, ""), "#1f77b4")
        offsets = [0.0] if len(values) == 1 else [-0.12 + 0.24 * k / (len(values) - 1) for k in range(len(values))]
        ax.scatter([x + o for o in offsets], values, color=colour, s=22, alpha=0.7, zorder=3)
        interval = mean_interval(values)
        centre = sum(values) / len(values)
        if interval is not None:
            ax.errorbar([x + 0.3], [centre], yerr=[[centre - interval[0]], [interval[1] - centre]], fmt="D",
                        color=colour, ms=5, capsize=4, lw=1.2, zorder=4)
    ax.set_xticks(range(len(names)), ["dense" if n == "dense" else f"candidate {n}" for n in names], fontsize=8)
    ax.set_ylabel("final validation perplexity")
    ax.set_title(f"Final perplexity under {results.seeds.get('n')} seeds", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return ReportFigure("seeds", "Final perplexity per seed", _png(fig),
                        "Dots: one training run each, per seed; diamond and bar: the mean and its 95% t "
                        "interval. The winner is the lowest mean.")
