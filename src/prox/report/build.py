"""`prox report OUT`: read an output folder once, streaming, and make its page.

One pass over every record counts what the plots need (`RunTally`) and keeps a reproducible sample for the
viewer (`StratifiedSample`); the account is the run's own `stats.json`, shown as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from html import escape
from typing import TypeVar

from prox.records.reading import BadRecord
from prox.report.documents import PLACES, RunOutput, open_output, read_documents
from prox.report.page import account_tables, definition_list, html_page, plot_grid, run_description, share, warnings
from prox.report.plots import require_matplotlib, run_plots
from prox.report.tally import RunTally, StratifiedSample, expected_strata, stratum_of
from prox.report.view import document_view

DEFAULT_SAMPLE = 1000
_SOURCES_SHOWN = 50
Item = TypeVar("Item")


def build_report(location: str, sample: int = DEFAULT_SAMPLE, seed: int = 0, progress: bool = False) -> str:
    """The HTML page reporting on the output folder at `location` (a local path or a URL)."""
    if sample < 0:
        raise ValueError(f"--sample {sample}: give 0 or more documents")
    output = open_output(location)
    require_matplotlib()  # before the pass over the corpus, not after it
    tally = RunTally()
    sampler = StratifiedSample(sample, expected_strata(output.stats), seed)
    for item in progress_bar(read_documents(output), output.stats.get("documents_in"), progress, "reading"):
        if isinstance(item, BadRecord):
            tally.add_unreadable(item.where, item.reason)
            continue
        tally.add(item)
        sampler.offer(stratum_of(item), item)
    views = [document_view(document) for document in sampler.documents()]
    plots, missing = run_plots(output.stats, tally)
    body = "".join(
        [
            f"<header><h1>prox report</h1><p class='where'>{escape(location)}</p>",
            definition_list(run_description(output.manifest)),
            "</header>",
            warnings(run_warnings(output, tally)),
            "<section id='account'><h2>Account</h2>",
            "<p class='note'>The run's own account, <code>stats.json</code>; errors by reason are counted from "
            "the records in <code>OUT/errors</code>.</p>",
            account_tables(output.stats, {"Errors by reason": tally.error_reasons.most_common()}),
            "</section><section id='plots'><h2>Plots</h2>",
            plot_grid(plots, missing),
            "</section>",
            sources_table(tally) if len(tally.sources) > 1 else "",
            "<section id='documents'><h2>Documents</h2>",
            f"<p class='note'>{escape(sample_note(len(views), sample, seed))}</p>",
            "<div id='viewer'><noscript>The document viewer needs JavaScript.</noscript></div></section>",
        ]
    )
    return html_page(f"prox report: {location}", body, {"mode": "single", "documents": views})


def sample_note(chosen: int, size: int, seed: int) -> str:
    return (
        f"{chosen:,} documents (--sample {size:,}, --seed {seed}): each decision gets an equal share of the sample "
        "(all of its documents when it has fewer), drawn uniformly from all of the run's documents with that "
        "decision by reservoir sampling. Line numbers are those the refiner saw; struck-through lines were removed; "
        "red and green marks are what normalize calls took out and put in."
    )


def run_warnings(output: RunOutput, tally: RunTally) -> list[str]:
    """What a reader should know before trusting the page."""
    stats = output.stats
    found = []
    if stats.get("tasks_finished", 0) < stats.get("tasks", 0):
        found.append(f"only {stats.get('tasks_finished')} of {stats.get('tasks')} tasks finished (stats.json)")
    elif stats.get("accounted") is False:
        found.append("the run's account does not add up: documents in != kept + dropped + errors (stats.json)")
    read = {place: 0 for place in PLACES}
    for category, count in tally.categories.items():
        read[category.partition(":")[0]] += count
    for place, stat in zip(PLACES, ("kept", "dropped", "errors"), strict=True):
        if place in read and stats.get(stat) is not None and read[place] != stats[stat]:
            found.append(f"the output holds {read[place]:,} {place} records, stats.json counts {stats[stat]:,} {stat}")
    if tally.unreadable:
        found.append(
            f"{tally.unreadable:,} output records could not be read (first: {'; '.join(tally.unreadable_examples)})"
        )
    if tally.replay_disagreements:
        found.append(
            f"{tally.replay_disagreements:,} documents' recorded programs, run again under the run's policy, do not "
            "give what the run recorded (made by another prox version?); the viewer shows the replay beside the "
            "recorded result"
        )
    return found


def sources_table(tally: RunTally) -> str:
    largest = sorted(tally.sources.items(), key=lambda item: (-item[1].documents, item[0]))
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{counts.documents:,}</td><td>{counts.kept:,}</td><td>{counts.dropped:,}</td>"
        f"<td>{counts.errors:,}</td><td>{counts.chars_in:,}</td><td>{counts.chars_out:,}</td>"
        f"<td>{share(counts.chars_out, counts.chars_in)}</td></tr>"
        for name, counts in largest[:_SOURCES_SHOWN]
    )
    more = len(largest) - _SOURCES_SHOWN
    caption = f"Per input file ({len(largest):,} files" + (
        f"; the {_SOURCES_SHOWN} largest shown)" if more > 0 else ")"
    )
    return (
        f"<section id='sources'><h2>Input files</h2><table class='sources'><caption>{caption}</caption>"
        "<tr><th>file</th><th>documents</th><th>kept</th><th>dropped</th><th>errors</th><th>characters in</th>"
        f"<th>characters out</th><th>kept</th></tr>{rows}</table></section>"
    )


def progress_bar(items: Iterable[Item], total: int | None, enabled: bool, description: str) -> Iterator[Item]:
    """`items`, with a progress bar on stderr when `enabled`."""
    from tqdm import tqdm

    yield from tqdm(
        items, total=total, unit=" records", desc=f"prox report: {description}", disable=not enabled, file=sys.stderr
    )
