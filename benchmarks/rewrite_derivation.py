"""Rewrite derivation on real pages: exact-reproduction rate and speed on deletion-only rewrites from gold labels.

Run from the project root:
    python benchmarks/rewrite_derivation.py [--pages N] [--budget 6000] [--numbered] [--cut-words SHARE]

Each WCXB dev page is chunked as the chunk stage does (`chunk_document`, `CharacterCounter`, 6000 characters);
each chunk's "teacher rewrite" is its gold-kept lines (label 1), with their `[NNN]` prefixes under
`--numbered`. `derive_program` must reproduce every one exactly (the lines are deleted whole); the script prints
the counts, the rate, the time, and exits with status 1 if any chunk is not reproduced exactly.

`--cut-words SHARE` also deletes the last 1-3 words of that share of the kept lines of 4 words or more (seeded),
so that the rewrites need normalize calls; a line whose remaining text also occurs in a surviving line cannot be
edited under the release's whole-document normalize, so the rate reported then is below 100% and the exit status
stays 0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from prox.chunking import CharacterCounter, Chunk, chunk_document, number_line
from prox.synth.rewrite import derive_program

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PAGES = SHARED / "data" / "line_labels" / "wcxb_dev.jsonl.gz"


def load_pages(path: Path, limit: int | None) -> list[tuple[list[str], list[int]]]:
    """(lines, labels) of the first `limit` pages with lines."""
    pages = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            page = json.loads(line)
            if page["lines"]:
                pages.append((page["lines"], page["labels"]))
            if limit and len(pages) >= limit:
                break
    return pages


def gold_rewrites(
    lines: list[str],
    labels: list[int],
    budget: int,
    numbered: bool,
    cut_words: float = 0.0,
    rng: random.Random | None = None,
) -> list[tuple[Chunk, str]]:
    """(chunk, cleaned text) per chunk of the page: the chunk's gold-kept lines, as a teacher would return them,
    with the last words of a share `cut_words` of them deleted."""
    rng = rng or random.Random(0)
    rewrites = []
    for chunk in chunk_document("\n".join(lines), CharacterCounter(), budget=budget):
        kept = []
        for index in range(chunk.first_line, chunk.last_line + 1):
            if labels[index] != 1:
                continue
            text, words = lines[index], lines[index].split(" ")
            if len(words) >= 4 and rng.random() < cut_words:
                text = " ".join(words[: -rng.randint(1, 3)])
            kept.append(number_line(index, text) if numbered else text)
        rewrites.append((chunk, "\n".join(kept)))
    return rewrites


def measure(
    pages: list[tuple[list[str], list[int]]], budget: int, numbered: bool, cut_words: float = 0.0
) -> tuple[Counter, float, int]:
    """Derivation outcomes ("exact", "partial", "rejected"), seconds spent deriving, and calls written."""
    rng = random.Random(0)
    prepared = [(lines, gold_rewrites(lines, labels, budget, numbered, cut_words, rng)) for lines, labels in pages]
    outcomes: Counter = Counter()
    calls = 0
    start = time.perf_counter()
    for lines, rewrites in prepared:
        for chunk, cleaned in rewrites:
            derivation = derive_program(lines, chunk, cleaned)
            outcomes[derivation.status] += 1
            calls += len(derivation.calls)
    return outcomes, time.perf_counter() - start, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=None, help="number of pages (default: all)")
    parser.add_argument("--budget", type=int, default=6000, help="chunk budget in characters (default 6000)")
    parser.add_argument("--numbered", action="store_true", help="the rewrites keep the [NNN] line prefixes")
    parser.add_argument("--cut-words", type=float, default=0.0, help="share of kept lines losing their last words")
    parser.add_argument("--data", type=Path, default=PAGES, help=f"line-labelled pages (default {PAGES})")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"no pages at {args.data}: put the shared data next to the project", file=sys.stderr)
        return 2
    pages = load_pages(args.data, args.pages)
    outcomes, seconds, calls = measure(pages, args.budget, args.numbered, args.cut_words)
    chunks = sum(outcomes.values())
    megabytes = sum(len("\n".join(lines).encode()) for lines, _ in pages) / 1e6
    print(f"pages {len(pages)}  chunks {chunks}  text {megabytes:.1f} MB  calls {calls}")
    print(f"exact {outcomes['exact']}  partial {outcomes['partial']}  rejected {outcomes['rejected']}")
    print(f"exact-reproduction rate {outcomes['exact'] / chunks:.2%}")
    print(f"derivation {seconds:.2f} s  ({chunks / seconds:.0f} chunks/s, {megabytes / seconds:.2f} MB/s)")
    return 0 if outcomes["exact"] == chunks or args.cut_words else 1


if __name__ == "__main__":
    sys.exit(main())
