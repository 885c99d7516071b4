"""`prox report OUT_A --compare OUT_B`: two runs over the same input, side by side.

Documents are matched by the input record they came from (`metadata.prox.source`, `file:line`), which
`prox refine` records and `prox execute` keeps. A first pass keeps a small outcome per document of run A
(where it ended and which lines its edit removed, as line ranges); a pass over run B compares each of its
documents with A's and keeps the most disagreeing ones (a bounded heap); a last pass over A fetches their A side.
Memory holds the outcomes of A (tens of bytes per document) and the documents shown, never a whole corpus.
"""

from __future__ import annotations

import heapq
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape

from prox.records.reading import BadRecord
from prox.report.build import DEFAULT_SAMPLE, progress_bar
from prox.report.documents import OutputDocument, RunOutput, open_output, read_documents
from prox.report.page import account_tables, html_page, plot_grid, run_description, share, warnings
from prox.report.plots import DROPPED_COLOR, Plot, render, require_matplotlib, share_histogram
from prox.report.tally import Bins
from prox.report.view import document_view


@dataclass(frozen=True)
class Outcome:
    """What one run did to a document, as much as a comparison needs."""

    category: str  # "kept:edited", "dropped:drop_doc", "error"
    lines: int
    removed: tuple[int, ...]  # the removed lines as ranges: start, end (inclusive), start, end, ...
    result_hash: int  # of the result text, to tell edits apart that remove the same lines

    @property
    def place(self) -> str:
        return self.category.partition(":")[0]

    def removed_lines(self) -> set[int]:
        pairs = zip(self.removed[::2], self.removed[1::2], strict=True)
        return {line for start, end in pairs for line in range(start, end + 1)}


def outcome_of(document: OutputDocument) -> Outcome:
    removed: list[int] = []
    if document.removed_line_count and document.replay is not None:
        for line in document.replay.removed_lines:  # sorted and distinct
            if removed and removed[-1] == line - 1:
                removed[-1] = line
            else:
                removed.extend((line, line))
    category = "error" if document.place == "error" else document.category
    return Outcome(category, document.line_count, tuple(removed), hash(document.result))


@dataclass
class Agreement:
    """How two runs agree, counted over the documents both hold."""

    both: int = 0
    only_a: int = 0
    only_b: int = 0
    same_place: int = 0  # kept by both, dropped by both, or an error in both
    same_category: int = 0  # the same decision and reason
    decisions: Counter = field(default_factory=Counter)  # (A category, B category) -> documents
    # Over the documents both runs kept: lines, and lines removed by both, by A only, by B only.
    kept_by_both: int = 0
    lines: int = 0
    removed_both: int = 0
    removed_only_a: int = 0
    removed_only_b: int = 0
    same_text: int = 0
    line_disagreement: Bins = field(default_factory=lambda: Bins(0.0, 1.0, 20))

    def add(self, a: Outcome, b: Outcome) -> tuple[float, str]:
        """Count one document; its disagreement (0 to 1) and what differs ("decision", "lines", "text", "")."""
        self.both += 1
        self.decisions[(a.category, b.category)] += 1
        self.same_category += a.category == b.category
        if a.place != b.place:
            return 1.0, "decision"
        self.same_place += 1
        if a.place != "kept":
            return 0.0, ""
        self.kept_by_both += 1
        removed_a, removed_b = a.removed_lines(), b.removed_lines()
        both = len(removed_a & removed_b)
        only_a, only_b = len(removed_a) - both, len(removed_b) - both
        self.lines += a.lines
        self.removed_both += both
        self.removed_only_a += only_a
        self.removed_only_b += only_b
        differing = (only_a + only_b) / max(a.lines, 1)
        self.line_disagreement.add(differing)
        self.same_text += a.result_hash == b.result_hash
        if only_a or only_b:
            return min(differing, 0.999), "lines"
        if a.result_hash != b.result_hash:
            return 1e-6, "text"  # the same lines removed, other normalize edits
        return 0.0, ""


def build_comparison(
    location_a: str, location_b: str, sample: int = DEFAULT_SAMPLE, seed: int = 0, progress: bool = False
) -> str:
    """The HTML page comparing two output folders of runs over the same input."""
    if sample < 0:
        raise ValueError(f"--sample {sample}: give 0 or more documents")
    run_a, run_b = open_output(location_a), open_output(location_b)
    require_matplotlib()
    outcomes_a: dict[str, Outcome] = {}
    unreadable = Counter()
    for item in _documents(run_a, progress, "reading A", unreadable):
        outcomes_a[item.key] = outcome_of(item)
    agreement = Agreement()
    chosen: list[tuple[float, int, str, str, OutputDocument]] = []  # a min-heap of the most disagreeing
    for item in _documents(run_b, progress, "reading B", unreadable):
        outcome_a = outcomes_a.pop(item.key, None)
        if outcome_a is None:
            agreement.only_b += 1
            continue
        score, kind = agreement.add(outcome_a, outcome_of(item))
        if score <= 0 or sample == 0:
            continue
        entry = (score, zlib.crc32(f"{seed}:{item.key}".encode()), item.key, kind, item)
        if len(chosen) < sample:
            heapq.heappush(chosen, entry)
        elif entry[:3] > chosen[0][:3]:
            heapq.heapreplace(chosen, entry)
    agreement.only_a = len(outcomes_a)
    del outcomes_a
    wanted = {entry[2]: entry for entry in chosen}
    pairs: list[dict] = []
    if wanted:
        for item in _documents(run_a, progress, "fetching A's side", Counter()):
            if item.key in wanted:
                score, _, key, kind, other = wanted.pop(item.key)
                pairs.append(
                    {
                        "key": key,
                        "id": item.id,
                        "score": score,
                        "kind": kind,
                        "a": document_view(item),
                        "b": document_view(other),
                    }
                )
                if not wanted:
                    break
    pairs.sort(key=lambda pair: (-pair["score"], pair["key"]))
    body = _page_body(run_a, run_b, agreement, pairs, sample, seed, unreadable)
    data = {"mode": "compare", "labels": {"a": location_a, "b": location_b}, "pairs": pairs}
    return html_page(f"prox report: {location_a} vs {location_b}", body, data)


def _documents(run: RunOutput, progress: bool, description: str, unreadable: Counter) -> Iterator[OutputDocument]:
    for item in progress_bar(read_documents(run), run.stats.get("documents_in"), progress, description):
        if isinstance(item, BadRecord):
            unreadable[run.location] += 1
        else:
            yield item


def _page_body(
    run_a: RunOutput,
    run_b: RunOutput,
    agreement: Agreement,
    pairs: list[dict],
    sample: int,
    seed: int,
    unreadable: Counter,
) -> str:
    notes = [f"{count:,} output records of {where} could not be read" for where, count in unreadable.items()]
    if agreement.only_a or agreement.only_b:
        notes.append(
            f"{agreement.only_a:,} documents are only in A and {agreement.only_b:,} only in B: the runs did not read "
            "the same input records (documents are matched by their input file and line)"
        )
    if not agreement.both:
        notes.append("the two runs hold no document in common: compare runs over the same input")
    description_a, description_b = run_description(run_a.manifest), run_description(run_b.manifest)
    runs = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(str(value_a or ''))}</td><td>{escape(str(value_b or ''))}</td></tr>"
        for (name, value_a), (_, value_b) in zip(description_a, description_b, strict=True)
        if value_a or value_b
    )
    plots = []
    if agreement.line_disagreement.total:
        plots.append(
            Plot(
                "line_disagreement",
                "Removed lines: disagreement per document",
                f"{agreement.kept_by_both:,} documents both runs kept: share of a document's lines that one run "
                "removed and the other kept; 0% means the same lines removed",
                render("line_disagreement", share_histogram(agreement.line_disagreement, "documents", DROPPED_COLOR)),
            )
        )
    return "".join(
        [
            "<header><h1>prox report: two runs</h1>",
            f"<p class='where'>A: {escape(run_a.location)}<br>B: {escape(run_b.location)}</p>",
            f"<table class='runs'><tr><th></th><th>A</th><th>B</th></tr>{runs}</table></header>",
            warnings(notes),
            "<section id='agreement'><h2>Agreement</h2>",
            _agreement_tables(agreement),
            plot_grid(plots, []),
            "</section><section id='account'><h2>Accounts</h2><div class='side-by-side'>",
            f"<div data-run='a'><h3>A: {escape(run_a.location)}</h3>{account_tables(run_a.stats)}</div>",
            f"<div data-run='b'><h3>B: {escape(run_b.location)}</h3>{account_tables(run_b.stats)}</div>",
            "</div></section><section id='documents'><h2>Documents where the runs disagree most</h2>",
            f"<p class='note'>{len(pairs):,} documents (--sample {sample:,}): those with the largest disagreement, a "
            "different decision first, then the largest share of lines removed by one run only; ties are broken "
            f"by --seed {seed}.</p>",
            "<div id='viewer'><noscript>The document viewer needs JavaScript.</noscript></div></section>",
        ]
    )


def _agreement_tables(agreement: Agreement) -> str:
    removed_any = agreement.removed_both + agreement.removed_only_a + agreement.removed_only_b
    rows = [
        ("documents in both runs", "both", agreement.both, ""),
        ("only in A", "only_a", agreement.only_a, ""),
        ("only in B", "only_b", agreement.only_b, ""),
        (
            "same decision (kept / dropped / error)",
            "same_place",
            agreement.same_place,
            share(agreement.same_place, agreement.both),
        ),
        (
            "same decision and reason",
            "same_category",
            agreement.same_category,
            share(agreement.same_category, agreement.both),
        ),
    ]
    lines = [
        ("documents both runs kept", "kept_by_both", agreement.kept_by_both, ""),
        ("their lines", "lines", agreement.lines, ""),
        ("removed by both", "removed_both", agreement.removed_both, share(agreement.removed_both, removed_any)),
        ("removed by A only", "removed_only_a", agreement.removed_only_a, share(agreement.removed_only_a, removed_any)),
        ("removed by B only", "removed_only_b", agreement.removed_only_b, share(agreement.removed_only_b, removed_any)),
        (
            "lines treated alike",
            "lines_alike",
            agreement.lines - agreement.removed_only_a - agreement.removed_only_b,
            share(agreement.lines - agreement.removed_only_a - agreement.removed_only_b, agreement.lines),
        ),
        ("same result text", "same_text", agreement.same_text, share(agreement.same_text, agreement.kept_by_both)),
    ]

    def table(caption: str, items: list[tuple[str, str, int, str]]) -> str:
        body = "".join(
            f"<tr><th>{escape(label)}</th><td data-agreement='{name}'>{value:,}</td><td class='share'>{shown}</td></tr>"
            for label, name, value, shown in items
        )
        return f"<table class='account'><caption>{escape(caption)}</caption>{body}</table>"

    categories_a = sorted({a for a, _ in agreement.decisions})
    categories_b = sorted({b for _, b in agreement.decisions})
    header = "".join(f"<th>B: {escape(name)}</th>" for name in categories_b)
    matrix = "".join(
        f"<tr><th>A: {escape(a)}</th>"
        + "".join(f"<td>{agreement.decisions.get((a, b), 0):,}</td>" for b in categories_b)
        + "</tr>"
        for a in categories_a
    )
    confusion = (
        "<table class='account confusion'><caption>Decisions, A by B</caption>"
        f"<tr><th></th>{header}</tr>{matrix}</table>"
    )
    return f"<div class='tables'>{table('Doc decisions', rows)}{table('Removed lines', lines)}{confusion}</div>"
