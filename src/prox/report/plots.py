"""The report's plots: matplotlib figures rendered to SVG that the page carries inline (text kept as text, no
timestamp), so the page shows them with no script and no network. matplotlib is the `report` extra."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prox.report.tally import LENGTH_DECADES, Bins, RunTally, SourceCounts

KEPT_COLOR = "#2a9d8f"
DROPPED_COLOR = "#e76f51"
ERROR_COLOR = "#8d99ae"
OTHER_COLOR = "#264653"
_BARS = 12  # bars shown in a bar chart; the rest are summed into one
_LABEL_CHARS = 48


@dataclass(frozen=True)
class Plot:
    """One figure of the page: an id, a title, what it shows, and its SVG text."""

    name: str
    title: str
    caption: str
    svg: str


def require_matplotlib() -> Any:
    """The matplotlib module, or a ValueError that says how to install it."""
    try:
        import matplotlib
        import matplotlib.figure
    except ImportError:
        raise ValueError("prox report draws its plots with matplotlib: pip install 'prox[report]'") from None
    return matplotlib


def render(name: str, draw: Callable[[Any], None], size: tuple[float, float] = (5.0, 3.0)) -> str:
    """An SVG of one set of axes drawn by `draw`, ready to inline in HTML."""
    matplotlib = require_matplotlib()
    style = {
        "svg.fonttype": "none",  # text as text: smaller, and readable by the browser and tests
        "svg.hashsalt": name,  # stable element ids, distinct between the page's figures
        "font.size": 9,
        "font.family": "sans-serif",
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(style):
        figure = matplotlib.figure.Figure(figsize=size, layout="constrained")
        draw(figure.add_subplot())
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # without the XML declaration and doctype, which HTML does not take


def run_plots(stats: dict, tally: RunTally) -> tuple[list[Plot], list[str]]:
    """The plots of one run, and a line for each plot left out for want of data."""
    plots: list[Plot] = []
    missing: list[str] = []

    def add(name: str, title: str, caption: str, draw: Callable[[Any], None] | None, empty: str, bars: int = 0) -> None:
        if draw is None:
            missing.append(f"{title}: {empty}")
        else:
            size = (5.0, 1.2 + 0.3 * min(bars, _BARS + 1)) if bars else (5.0, 3.0)  # bar charts: by their bars
            plots.append(Plot(name, title, caption, render(name, draw, size)))

    removed = tally.removed_share
    add(
        "lines_removed",
        "Share of lines removed per document",
        f"{removed.total:,} kept documents that chunk programs ran on; 0% means no line removed",
        share_histogram(removed, "documents", KEPT_COLOR) if removed.total else None,
        "no kept document went through the chunk stage",
    )
    add(
        "chars_kept",
        "Kept fraction of characters per document",
        f"{tally.kept_chars.total:,} kept documents: characters out / characters in",
        share_histogram(tally.kept_chars, "documents", KEPT_COLOR) if tally.kept_chars.total else None,
        "no kept document",
    )
    add(
        "p_keep",
        "Doc model p_keep",
        "the doc model's keep probability, by its decision",
        _p_keep(tally.p_keep) if tally.p_keep else None,
        "the refiner records no p_keep (only the lite refiner does)",
    )
    add(
        "length",
        "Document length before and after",
        "characters per document: every document read (before), every kept result (after); log scale",
        _lengths(tally.length_before, tally.length_after) if tally.length_before.total else None,
        "no document",
    )
    dropped = Counter({str(reason): int(count) for reason, count in (stats.get("dropped_by_reason") or {}).items()})
    add(
        "drop_reasons",
        "Drop reasons",
        "documents dropped, by reason (stats.json)",
        _bars(dropped, DROPPED_COLOR) if sum(dropped.values()) else None,
        "no document was dropped",
        bars=len(dropped),
    )
    add(
        "error_reasons",
        "Errors by reason",
        "records set aside in OUT/errors, by kind of reason",
        _bars(tally.error_reasons, ERROR_COLOR) if tally.error_reasons else None,
        "no error records",
        bars=len(tally.error_reasons),
    )
    add(
        "program_errors",
        "Program errors",
        "errors met reading the doc programs and running the chunk programs again, by kind",
        _bars(tally.program_errors, OTHER_COLOR) if tally.program_errors else None,
        "no program errors",
        bars=len(tally.program_errors),
    )
    if len(tally.sources) > 1:
        add(
            "sources",
            "Per input file",
            f"what became of each input file's records ({len(tally.sources):,} files; the largest shown)",
            _sources(tally.sources),
            "",
            bars=len(tally.sources) + 2,
        )
    return plots, missing


def _count_axis(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _percent_axis(axes: Any) -> None:
    axes.set_xlim(0, 1)
    axes.xaxis.set_major_formatter(lambda value, _position: f"{value:.0%}")


def share_histogram(bins: Bins, unit: str, color: str) -> Callable[[Any], None]:
    """Draws a histogram of shares (0% to 100%)."""

    def draw(axes: Any) -> None:
        axes.stairs(bins.counts, bins.edges, fill=True, color=color)
        _percent_axis(axes)
        _count_axis(axes.yaxis)
        axes.set_ylabel(unit)

    return draw


def _p_keep(by_decision: dict[str, Bins]) -> Callable[[Any], None]:
    colors = {"keep_doc": KEPT_COLOR, "drop_doc": DROPPED_COLOR}

    def draw(axes: Any) -> None:
        for decision, bins in sorted(by_decision.items(), reverse=True):
            color = colors.get(decision, OTHER_COLOR)
            axes.stairs(
                bins.counts, bins.edges, fill=True, alpha=0.6, color=color, label=f"{decision} ({bins.total:,})"
            )
        axes.set_xlim(0, 1)
        axes.set_xlabel("p_keep")
        axes.set_ylabel("documents")
        _count_axis(axes.yaxis)
        axes.legend(frameon=False)

    return draw


def _lengths(before: Bins, after: Bins) -> Callable[[Any], None]:
    def draw(axes: Any) -> None:
        axes.stairs(before.counts, before.edges, color=OTHER_COLOR, linewidth=1.5, label=f"before ({before.total:,})")
        axes.stairs(after.counts, after.edges, fill=True, alpha=0.6, color=KEPT_COLOR, label=f"after ({after.total:,})")
        axes.set_xticks(range(LENGTH_DECADES + 1))
        axes.set_xticklabels(["1", "10", "100", "1k", "10k", "100k", "1M", "10M"][: LENGTH_DECADES + 1])
        used = [index for index, count in enumerate(map(max, before.counts, after.counts)) if count]
        if used:  # zoom on the lengths that occur
            edges = before.edges
            axes.set_xlim(max(0.0, edges[used[0]] - 0.5), min(float(LENGTH_DECADES), edges[used[-1] + 1] + 0.5))
        axes.set_xlabel("characters")
        axes.set_ylabel("documents")
        _count_axis(axes.yaxis)
        axes.legend(frameon=False)

    return draw


def _bars(counts: Counter, color: str) -> Callable[[Any], None]:
    shown = counts.most_common(_BARS)
    rest = sum(counts.values()) - sum(count for _, count in shown)
    if rest:
        shown.append((f"({len(counts) - len(shown)} other kinds)", rest))

    def draw(axes: Any) -> None:
        labels = [_short(label) for label, _ in shown][::-1]
        values = [count for _, count in shown][::-1]
        axes.barh(labels, values, color=color)
        for index, value in enumerate(values):
            axes.annotate(f"{value:,}", (value, index), xytext=(3, 0), textcoords="offset points", va="center")
        axes.set_xlabel("documents" if color != OTHER_COLOR else "errors")
        axes.margins(x=0.15)
        _count_axis(axes.xaxis)

    return draw


def _sources(sources: dict[str, SourceCounts]) -> Callable[[Any], None]:
    largest = sorted(sources.items(), key=lambda item: (-item[1].documents, item[0]))[:_BARS]

    def draw(axes: Any) -> None:
        labels = [_short(name) for name, _ in largest][::-1]
        counts = [counts for _, counts in largest][::-1]
        left = [0] * len(counts)
        for part, color in (("kept", KEPT_COLOR), ("dropped", DROPPED_COLOR), ("errors", ERROR_COLOR)):
            values = [getattr(item, part) for item in counts]
            axes.barh(labels, values, left=left, color=color, label=part)
            left = [start + value for start, value in zip(left, values, strict=True)]
        axes.set_xlabel("documents")
        axes.legend(frameon=False)
        _count_axis(axes.xaxis)

    return draw


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else "…" + label[-(_LABEL_CHARS - 1) :]
