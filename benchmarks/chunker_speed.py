"""Chunker speed on real web pages: prox's token counters against the release's one-encode-per-line loop.

Run from the project root:  python benchmarks/chunker_speed.py [--pages N] [--repeat R]

Every method must produce exactly the naive loop's chunks (first line, last line, text) on every page; the
script exits with status 1 if any chunk differs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tokenizers import Tokenizer

from prox.chunking import BatchedTokenCounter, LineSizer, chunk_document, token_counter

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PAGE_FILES = ["wcxb_dev.jsonl.gz", "readability_testpages.jsonl.gz", "trafilatura_eval_snippets.jsonl.gz"]

Spans = list[tuple[int, int, str]]


def read_documents(data_dir: Path, limit: int | None) -> list[str]:
    documents = []
    for name in PAGE_FILES:
        with gzip.open(data_dir / name, "rt", encoding="utf-8") as lines:
            documents.extend("\n".join(json.loads(line)["lines"]) for line in lines)
    return documents[:limit]


def naive_chunks(text: str, tokenizer: Tokenizer, budget: int) -> Spans:
    """The release's `trunc_text` loop: one `tokenizer.encode` per numbered line, BOS counted."""
    chunks: Spans = []
    current: list[str] = []
    first = running = 0
    for index, line in enumerate(text.split("\n")):
        numbered = f"[{index:03d}]{line}"
        size = len(tokenizer.encode(numbered))
        if running + size <= budget:
            if not current:
                first = index
            current.append(numbered)
            running += size
            continue
        if current:
            chunks.append((first, index - 1, "\n".join(current)))
        if size > budget:
            chunks.append((index, index, numbered))
            current, running = [], 0
        else:
            current, first, running = [numbered], index, size
    if current:
        chunks.append((first, first + len(current) - 1, "\n".join(current)))
    return chunks


def prox_chunks(text: str, sizer: LineSizer, budget: int) -> Spans:
    return [(chunk.first_line, chunk.last_line, chunk.text) for chunk in chunk_document(text, sizer, budget)]


def timed(run: Callable[[], list[Spans]]) -> tuple[float, list[Spans]]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=None, help="use the first N pages (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="time each method R times, report the fastest")
    parser.add_argument("--budget", type=int, default=1500, help="tokens per chunk (default 1500, as released)")
    parser.add_argument("--tokenizer", type=Path, default=SHARED / "tokenizers" / "llama2" / "tokenizer.json")
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "line_labels", help="the page files' folder")
    args = parser.parse_args()

    tokenizer = Tokenizer.from_file(str(args.tokenizer))
    documents = read_documents(args.data, args.pages)
    megabytes = sum(len(document.encode("utf-8")) for document in documents) / 1e6
    lines = sum(document.count("\n") + 1 for document in documents)
    counter_name = type(token_counter(tokenizer)).__name__
    print(f"{len(documents)} pages, {lines} lines, {megabytes:.1f} MB of text, budget {args.budget} tokens")

    def over_all(sizer: LineSizer) -> list[Spans]:
        return [prox_chunks(document, sizer, args.budget) for document in documents]

    def naive() -> list[Spans]:
        return [naive_chunks(document, tokenizer, args.budget) for document in documents]

    results: dict[str, tuple[float, list[Spans]]] = {}

    def record(name: str, seconds: float, chunks: list[Spans]) -> None:
        best = results.get(name)
        results[name] = (min(seconds, best[0]) if best else seconds, chunks)

    for _ in range(args.repeat):
        record("naive (encode per line)", *timed(naive))
        counter = token_counter(tokenizer)
        record(f"{counter_name}, cold cache", *timed(lambda counter=counter: over_all(counter)))
        record(f"{counter_name}, warm cache", *timed(lambda counter=counter: over_all(counter)))
        record("BatchedTokenCounter", *timed(lambda: over_all(BatchedTokenCounter(tokenizer))))

    naive_seconds, reference = results["naive (encode per line)"]
    all_identical = True
    print(f"\n| {'method':<38} | {'MB':>6} | {'seconds':>8} | {'MB/s':>7} | {'speed-up':>8} | identical |")
    print(f"|{'-' * 40}|{'-' * 8}|{'-' * 10}|{'-' * 9}|{'-' * 10}|-----------|")
    for name, (seconds, chunks) in results.items():
        differing = sum(got != want for got, want in zip(chunks, reference, strict=True))
        all_identical = all_identical and differing == 0
        identical = "yes" if differing == 0 else f"no ({differing})"
        print(
            f"| {name:<38} | {megabytes:>6.1f} | {seconds:>8.2f} | {megabytes / seconds:>7.2f} "
            f"| {naive_seconds / seconds:>7.1f}x | {identical:<9} |"
        )
    if not all_identical:
        print("\nchunks differ from the naive loop's on some pages", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
