"""Executor throughput on realistic chunk programs: MB/s of document text, parse and execute.

Programs are built from the WCXB line labels the way a good refiner would write them: each chunk of a
page gets `remove_lines` ranges for its runs of boilerplate lines, plus a `normalize` for a phrase that
occurs in it, then the text of each program is parsed and executed under each policy.

    python benchmarks/executor_speed.py [--pages N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

from prox.chunking import CharacterCounter, chunk_document
from prox.program import RELEASE, STRICT, ChunkProgram, Normalize, RemoveLines, parse_program, serialize
from prox.program.execute import execute_chunk_programs

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PAGES = SHARED / "data" / "line_labels" / "wcxb_dev.jsonl.gz"


def load_pages(limit: int | None) -> list[dict]:
    pages = []
    with gzip.open(PAGES, "rt", encoding="utf-8") as handle:
        for line in handle:
            page = json.loads(line)
            if page["lines"]:
                pages.append(page)
            if limit and len(pages) >= limit:
                break
    return pages


def gold_programs(page: dict) -> tuple[str, list[tuple[str, int, int]]]:
    """The page text and, per chunk, (program text, first line, last line) written from the gold labels."""
    text = "\n".join(page["lines"])
    programs = []
    for chunk in chunk_document(text, CharacterCounter(), budget=6000):
        calls = []
        index = chunk.first_line
        while index <= chunk.last_line:
            if page["labels"][index] == 0:
                start = index
                while index + 1 <= chunk.last_line and page["labels"][index + 1] == 0:
                    index += 1
                calls.append(RemoveLines(start, index))
            index += 1
        kept = [page["lines"][i] for i in range(chunk.first_line, chunk.last_line + 1) if page["labels"][i] == 1]
        phrase = next((line.split()[-1] for line in kept if len(line.split()) > 3), None)
        if phrase:
            calls.append(Normalize(phrase, phrase.upper()))
        programs.append((serialize(calls) or "keep_chunk()", chunk.first_line, chunk.last_line))
    return text, programs


def measure(pages: list[tuple[str, list[tuple[str, int, int]]]], repeat: int) -> dict[str, float]:
    seconds: dict[str, float] = {"parse": 0.0, "release": 0.0, "strict": 0.0}
    for _ in range(repeat):
        start = time.perf_counter()
        parsed = [
            (text, [ChunkProgram(parse_program(source), first, last) for source, first, last in programs])
            for text, programs in pages
        ]
        seconds["parse"] += time.perf_counter() - start
        for name, policy in (("release", RELEASE), ("strict", STRICT)):
            start = time.perf_counter()
            for text, chunk_programs in parsed:
                execute_chunk_programs(text, chunk_programs, policy)
            seconds[name] += time.perf_counter() - start
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=None, help="number of pages (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the pages (default 3)")
    args = parser.parse_args()
    if not PAGES.exists():
        print(f"needs {PAGES} (the shared development data)", file=sys.stderr)
        return 1
    pages = [gold_programs(page) for page in load_pages(args.pages)]
    megabytes = sum(len(text.encode("utf-8")) for text, _ in pages) / 1e6 * args.repeat
    calls = sum(len(parse_program(source).calls) for _, programs in pages for source, _, _ in programs)
    seconds = measure(pages, args.repeat)
    print(f"{len(pages)} pages, {megabytes / args.repeat:.2f} MB of text, {calls} calls, {args.repeat} passes")
    print(f"{'step':<26}{'seconds':>10}{'MB/s':>10}")
    for step, label in (
        ("parse", "parse programs"),
        ("release", "execute, release policy"),
        ("strict", "execute, strict policy"),
    ):
        print(f"{label:<26}{seconds[step]:>10.2f}{megabytes / seconds[step]:>10.1f}")
    total = seconds["parse"] + seconds["release"]
    print(f"{'parse + execute (release)':<26}{total:>10.2f}{megabytes / total:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
