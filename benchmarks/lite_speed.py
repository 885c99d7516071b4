"""Speed of the lite refiner on one core against datatrove's own quality filters, and of `prox refine` end to end.

On the same documents, pinned to one CPU with one thread per library, in one run:

- datatrove: Gopher repetition → Gopher quality → C4 → FineWeb quality, chained as datatrove steps over
  `Document`s in this process, the filters built inside the timed region;
- lite: build `LiteGenerator` (model load, also reported alone), then per batch of 64 documents the doc
  programs, the chunks of every document (kept or not) and their chunk programs, all parsed and executed;
- refine: `prox refine` (the lite refiner, the real pipeline) in a fresh process, `--tasks 1 --workers 1`, on
  a JSONL.gz file of the same documents, start-up and I/O included.

Throughput is MB of input text (UTF-8) per second. Goals: lite at least 3× datatrove, refine at least 2 MB/s.

    python benchmarks/lite_speed.py [--limit N] [--input FILE.jsonl[.gz]] [--batch-size 64] [--json] [--profile]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

# Thread pools size themselves when numpy and lightgbm are first imported (inside the functions below), so the
# limits are set before any of them is.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
ONE_THREAD = dict.fromkeys((*THREAD_VARIABLES, "RAYON_NUM_THREADS"), "1")
os.environ.update(ONE_THREAD)

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PAGES = SHARED / "data" / "line_labels" / "wcxb_dev.jsonl.gz"
LITE_GOAL_RATIO = 3.0
REFINE_GOAL_MB_S = 2.0


def pin_to_one_core() -> int | None:
    """Pin this process (and the processes it starts, which inherit it) to its first allowed CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def load_texts(path: Path, limit: int | None) -> list[str]:
    """The first `limit` non-empty documents: a page's `lines` joined by newlines, or a record's `text`."""
    opener = gzip.open if path.suffix == ".gz" else open
    texts = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(texts) >= limit:
                break
            if not line.strip():
                continue
            record = json.loads(line)
            text = "\n".join(record["lines"]) if "lines" in record else record.get("text") or ""
            if text.strip():
                texts.append(text)
    return texts


def batches(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def run_datatrove(texts: Sequence[str]) -> dict:
    """datatrove's four filters over the documents, as a datatrove pipeline would chain them."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    # C4 rewrites `doc.text`, so the documents are made fresh for this pass.
    documents = [Document(text=text, id=str(number)) for number, text in enumerate(texts)]
    start = time.perf_counter()
    steps = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]
    stream: Iterator = iter(documents)
    for step in steps:
        stream = step.run(stream)
    kept = sum(1 for _ in stream)
    return {"seconds": time.perf_counter() - start, "kept": kept}


def run_lite(texts: Sequence[str], batch_size: int) -> dict:
    """Both lite stages as the pipeline runs them, model load included; the chunk stage sees every document."""
    from prox.chunking import chunk_document
    from prox.generators import make_generator
    from prox.program import ChunkProgram, execute_chunk_programs, execute_doc_program, parse_program

    start = time.perf_counter()
    generator = make_generator("lite")
    loaded = time.perf_counter()
    sizer = generator.chunk_sizer()
    doc_seconds = chunk_seconds = 0.0
    doc_kept = kept = 0
    for batch in batches(texts, batch_size):
        stage_start = time.perf_counter()
        decisions = [execute_doc_program(parse_program(text)) for text in generator.doc_programs(batch)]
        doc_kept += sum(decision.keep for decision in decisions)
        chunk_start = time.perf_counter()
        chunks = [chunk_document(text, sizer, generator.chunk_budget) for text in batch]
        programs = generator.chunk_programs([chunk for document in chunks for chunk in document])
        position = 0
        for text, document_chunks, decision in zip(batch, chunks, decisions, strict=True):
            recorded = [
                ChunkProgram(parse_program(program), chunk.first_line, chunk.last_line)
                for chunk, program in zip(
                    document_chunks, programs[position : position + len(document_chunks)], strict=True
                )
            ]
            position += len(document_chunks)
            kept += decision.keep and execute_chunk_programs(text, recorded).keep
        done = time.perf_counter()
        doc_seconds += chunk_start - stage_start
        chunk_seconds += done - chunk_start
    generator.close()
    return {
        "seconds": time.perf_counter() - start,
        "load_seconds": loaded - start,
        "doc_seconds": doc_seconds,
        "chunk_seconds": chunk_seconds,
        "doc_kept": doc_kept,
        "kept": kept,
    }


def run_refine(texts: Sequence[str], folder: Path) -> dict:
    """`prox refine` with its default (lite) refiner in a fresh process; it inherits the pin and thread limits."""
    source = folder / "documents.jsonl.gz"
    with gzip.open(source, "wt", encoding="utf-8", compresslevel=1) as handle:
        for number, text in enumerate(texts):
            handle.write(json.dumps({"id": str(number), "text": text}) + "\n")
    output = folder / "refined"
    command = [sys.executable, "-m", "prox", "refine", str(source), "-o", str(output), "--tasks", "1", "--workers", "1"]
    start = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **ONE_THREAD})
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(f"lite_speed: prox refine exited with {finished.returncode}:\n{finished.stderr[-3000:]}")
    stats = json.loads((output / "stats.json").read_text())
    return {"seconds": seconds, "kept": stats.get("kept"), "documents_in": stats.get("documents_in")}


def profile_lite(texts: Sequence[str], batch_size: int, top: int) -> None:
    """The lite pass under cProfile, its hotspots by cumulative time on stderr."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run_lite, texts, batch_size)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(top)


def report(megabytes: float, documents: int, cpu: int | None, results: dict) -> dict:
    datatrove, lite, refine = results["datatrove"], results["lite"], results["refine"]
    lite_warm = lite["seconds"] - lite["load_seconds"]
    return {
        "documents": documents,
        "megabytes": round(megabytes, 3),
        "cpu": cpu,
        "datatrove": {**datatrove, "mb_per_s": megabytes / datatrove["seconds"]},
        "lite": {**lite, "mb_per_s": megabytes / lite["seconds"], "mb_per_s_without_load": megabytes / lite_warm},
        "refine": {**refine, "mb_per_s": megabytes / refine["seconds"]},
        "lite_over_datatrove": datatrove["seconds"] / lite["seconds"],
        "lite_over_datatrove_without_load": datatrove["seconds"] / lite_warm,
        "goals": {"lite_over_datatrove": LITE_GOAL_RATIO, "refine_mb_per_s": REFINE_GOAL_MB_S},
    }


def print_table(summary: dict) -> None:
    pin = f"CPU {summary['cpu']}" if summary["cpu"] is not None else "unpinned"
    print(f"{summary['documents']} documents, {summary['megabytes']:.2f} MB of text, one thread, {pin}")
    print(f"{'pass':<44}{'seconds':>9}{'MB/s':>8}{'kept':>7}")
    datatrove, lite, refine = summary["datatrove"], summary["lite"], summary["refine"]
    rows = [
        ("datatrove Gopher rep + Gopher + C4 + FineWeb", datatrove["seconds"], datatrove["kept"]),
        ("lite, load + doc + chunk stages", lite["seconds"], lite["kept"]),
        ("  model load", lite["load_seconds"], None),
        (f"  doc stage (kept {lite['doc_kept']})", lite["doc_seconds"], lite["doc_kept"]),
        ("  chunk stage, all documents", lite["chunk_seconds"], None),
        ("prox refine (lite), own process, end to end", refine["seconds"], refine["kept"]),
    ]
    for name, seconds, kept in rows:
        rate = f"{summary['megabytes'] / seconds:>8.2f}" if seconds > 0 else f"{'-':>8}"
        print(f"{name:<44}{seconds:>9.2f}{rate}{'' if kept is None else kept:>7}")
    ratio, warm_ratio = summary["lite_over_datatrove"], summary["lite_over_datatrove_without_load"]
    print(f"lite / datatrove: {ratio:.2f}x with model load, {warm_ratio:.2f}x without (goal {LITE_GOAL_RATIO:g}x)")
    print(f"prox refine end to end: {refine['mb_per_s']:.2f} MB/s on one core (goal {REFINE_GOAL_MB_S:g} MB/s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=None, help="JSONL[.gz] with a text field (default: WCXB pages)")
    parser.add_argument("--limit", type=int, default=300, help="first N documents (default 300; 0: all)")
    parser.add_argument("--batch-size", type=int, default=64, help="documents per generator call (default 64)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=25,
        default=0,
        metavar="TOP",
        help="also profile the lite pass and print its TOP hotspots (default 25) on stderr",
    )
    args = parser.parse_args()
    source = args.input or PAGES
    if not source.is_file():
        what = "the input file" if args.input else "the shared development pages (../shared/data/line_labels)"
        print(f"lite_speed: {source} not found; needs {what}", file=sys.stderr)
        return 1
    cpu = pin_to_one_core()
    texts = load_texts(source, args.limit or None)
    if not texts:
        print(f"lite_speed: no documents with text in {source}", file=sys.stderr)
        return 1
    megabytes = sum(len(text.encode("utf-8")) for text in texts) / 1e6
    # Import both sides' libraries before timing, so neither pays for the modules they share.
    import datatrove.pipeline.filters  # noqa: F401
    from datatrove.utils.logging import logger

    import prox.generators.lite  # noqa: F401

    logger.disable("datatrove")
    with tempfile.TemporaryDirectory() as scratch:
        results = {
            "datatrove": run_datatrove(texts),
            "lite": run_lite(texts, args.batch_size),
            "refine": run_refine(texts, Path(scratch)),
        }
    summary = report(megabytes, len(texts), cpu, results)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print_table(summary)
    if args.profile:
        profile_lite(texts, args.batch_size, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
