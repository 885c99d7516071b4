"""What a report counts in its one pass over an output folder, in memory that does not grow with the corpus:
fixed-bin histograms, counts by kind and by input file, and a reproducible sample of documents per decision."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

from prox.report.documents import NO_CHUNK_PROGRAM, OutputDocument, reason_kind

# Document lengths are binned on a log10 scale of characters, 1 to 10^7 (prox refine's default --max-doc-chars).
LENGTH_DECADES = 7
_LENGTH_BINS_PER_DECADE = 8
_SHARE_BINS = 20


class Bins:
    """Counts over fixed, equal-width bins of [low, high]; a value outside falls into the nearest end bin."""

    def __init__(self, low: float, high: float, count: int):
        self.low, self.high = low, high
        self.counts = [0] * count

    def add(self, value: float) -> None:
        index = int((value - self.low) / (self.high - self.low) * len(self.counts))
        self.counts[min(max(index, 0), len(self.counts) - 1)] += 1

    @property
    def edges(self) -> list[float]:
        width = (self.high - self.low) / len(self.counts)
        return [self.low + width * index for index in range(len(self.counts) + 1)]

    @property
    def total(self) -> int:
        return sum(self.counts)


def length_bins() -> Bins:
    return Bins(0.0, float(LENGTH_DECADES), LENGTH_DECADES * _LENGTH_BINS_PER_DECADE)


@dataclass
class SourceCounts:
    """What became of one input file's records."""

    kept: int = 0
    dropped: int = 0
    errors: int = 0
    chars_in: int = 0
    chars_out: int = 0

    @property
    def documents(self) -> int:
        return self.kept + self.dropped + self.errors


@dataclass
class RunTally:
    """The per-document numbers of a run, gathered document by document."""

    # Share of a kept document's lines that its chunk programs removed (documents the chunk stage saw).
    removed_share: Bins = field(default_factory=lambda: Bins(0.0, 1.0, _SHARE_BINS))
    # Characters of the result over characters of the original, per kept document.
    kept_chars: Bins = field(default_factory=lambda: Bins(0.0, 1.0, _SHARE_BINS))
    # The doc model's keep probability, by the doc-stage decision ("keep_doc" or "drop_doc").
    p_keep: dict[str, Bins] = field(default_factory=dict)
    # log10 of the characters of every document read (before) and of every kept result (after).
    length_before: Bins = field(default_factory=length_bins)
    length_after: Bins = field(default_factory=length_bins)
    categories: Counter = field(default_factory=Counter)
    error_reasons: Counter = field(default_factory=Counter)
    program_errors: Counter = field(default_factory=Counter)
    sources: dict[str, SourceCounts] = field(default_factory=dict)
    # Documents whose recorded programs, run again under the run's policy, do not give what the run recorded.
    replay_disagreements: int = 0
    # Output records that could not be read (a damaged file), with the first few positions and reasons.
    unreadable: int = 0
    unreadable_examples: list[str] = field(default_factory=list)

    def add_unreadable(self, where: str, reason: str) -> None:
        self.unreadable += 1
        if len(self.unreadable_examples) < 5:
            self.unreadable_examples.append(f"{where}: {reason}")

    def add(self, document: OutputDocument) -> None:
        self.categories[document.category] += 1
        source = self.sources.setdefault(document.source_file, SourceCounts())
        if document.place == "error":
            self.error_reasons[document.reason] += 1
            source.errors += 1
            return
        chars_in = len(document.original)
        source.chars_in += chars_in
        self.length_before.add(math.log10(max(chars_in, 1)))
        if document.p_keep is not None:
            decision = str(document.prox.get("doc_decision") or "keep_doc")
            self.p_keep.setdefault(decision, Bins(0.0, 1.0, _SHARE_BINS)).add(document.p_keep)
        self.program_errors.update(reason_kind(error) for error in document.program_errors)
        if not document.replay_agrees:
            self.replay_disagreements += 1
        if document.place == "dropped":
            source.dropped += 1
            return
        source.kept += 1
        chars_out = len(document.result or "")
        source.chars_out += chars_out
        self.length_after.add(math.log10(max(chars_out, 1)))
        if chars_in:
            self.kept_chars.add(chars_out / chars_in)
        if document.replay is not None:
            self.removed_share.add(document.removed_line_count / document.line_count)


def expected_strata(stats: dict) -> dict[str, int]:
    """How many documents of each sample stratum the run's account (`stats.json`) says there are: kept by
    chunk decision, dropped by reason, and the errors."""
    kept_by = {str(name): int(count) for name, count in (stats.get("kept_by_decision") or {}).items()}
    strata = {f"kept:{name}": count for name, count in kept_by.items()}
    rest = int(stats.get("kept", 0)) - sum(kept_by.values())
    if rest > 0:
        strata[f"kept:{NO_CHUNK_PROGRAM}"] = rest
    strata |= {f"dropped:{name}": int(count) for name, count in (stats.get("dropped_by_reason") or {}).items()}
    if int(stats.get("errors", 0)):
        strata["error"] = int(stats["errors"])
    return {name: count for name, count in strata.items() if count > 0}


def stratum_of(document: OutputDocument) -> str:
    return "error" if document.place == "error" else document.category


def fair_shares(size: int, counts: dict[str, int]) -> dict[str, int]:
    """`size` split over strata of the given sizes as evenly as they allow: a stratum smaller than an equal share
    is taken whole and what it leaves goes to the others."""
    shares = dict.fromkeys(counts, 0)
    pending = sorted((count, name) for name, count in counts.items() if count > 0)
    remaining = size
    while pending and remaining > 0:
        equal = remaining // len(pending)
        smallest, name = pending[0]
        if smallest <= equal:
            shares[name] = smallest
            remaining -= smallest
            pending.pop(0)
            continue
        for _, name in pending:
            shares[name] = equal
        remaining -= equal * len(pending)
        for _, name in pending[:remaining]:  # what does not divide evenly: one more each to the smallest
            shares[name] += 1
        break
    return shares


class StratifiedSample:
    """A reproducible sample of about `size` documents: each stratum (a decision) gets its fair share of `size`
    (`fair_shares` of the strata's sizes, known in advance from the run's account), and within a stratum every
    document is equally likely to be chosen (reservoir sampling), whatever the corpus's size; memory holds
    only the chosen documents. A stratum the account does not name gets the smallest share."""

    def __init__(self, size: int, expected: dict[str, int], seed: int):
        self.quotas = fair_shares(size, expected)
        positive = [quota for quota in self.quotas.values() if quota > 0]
        self._unplanned_quota = min(positive, default=1) if size > 0 else 0
        self.seed = seed
        self._seen: Counter = Counter()
        self._chosen: dict[str, list[tuple[int, OutputDocument]]] = {}
        self._random: dict[str, random.Random] = {}
        self._order = 0

    def offer(self, stratum: str, document: OutputDocument) -> None:
        self._order += 1
        quota = self.quotas.get(stratum, self._unplanned_quota)
        if quota <= 0:
            return
        self._seen[stratum] += 1
        seen = self._seen[stratum]
        chosen = self._chosen.setdefault(stratum, [])
        if seen <= quota:
            chosen.append((self._order, document))
            return
        # Algorithm R: the n-th document replaces a chosen one with probability quota/n.
        if stratum not in self._random:
            self._random[stratum] = random.Random(f"{self.seed}:{stratum}")
        slot = self._random[stratum].randrange(seen)
        if slot < quota:
            chosen[slot] = (self._order, document)

    def documents(self) -> list[OutputDocument]:
        """The chosen documents, in the order they were read."""
        return [document for _, document in sorted(item for items in self._chosen.values() for item in items)]
