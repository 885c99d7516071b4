"""`prox refine` with 1 and with 2 workers on the same input, in one run: how the default use of every CPU scales.

The WCXB pages of ../shared/data/line_labels are split into `--files` JSONL files, so the default run has one
task per file; each side runs as its own process, start-up included, with the default lite refiner.

    python benchmarks/worker_scaling.py [--pages N] [--files F] [--repeat R]
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
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PAGES = SHARED / "data" / "line_labels" / "wcxb_dev.jsonl.gz"


def write_corpus(folder: Path, limit: int | None, files: int) -> float:
    """The pages dealt round-robin into `files` JSONL files; returns their text size in MB."""
    size = 0
    handles = [open(folder / f"part{index:02d}.jsonl", "w") for index in range(files)]  # noqa: SIM115
    try:
        with gzip.open(PAGES, "rt", encoding="utf-8") as pages:
            for number, line in enumerate(pages):
                if limit is not None and number >= limit:
                    break
                page = json.loads(line)
                text = "\n".join(page["lines"])
                if text.strip():
                    size += len(text.encode("utf-8"))
                    handles[number % files].write(json.dumps({"id": page["id"], "text": text}) + "\n")
    finally:
        for handle in handles:
            handle.close()
    return size / 1e6


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=None, help="number of pages (default: all)")
    parser.add_argument("--files", type=int, default=8, help="input files, so tasks (default 8)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; the fastest counts (default 1)")
    args = parser.parse_args()
    if not PAGES.exists():
        print(f"needs {PAGES} (the shared development data)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "in").mkdir()
        megabytes = write_corpus(root / "in", args.pages, args.files)
        results: dict[int, list[float]] = {1: [], 2: []}
        for attempt in range(args.repeat):
            for workers in results:
                out = root / f"out-{workers}-{attempt}"
                command = [sys.executable, "-m", "prox", "refine", str(root / "in"), "-o", str(out)]
                results[workers].append(timed([*command, "--workers", str(workers)]))
        stats = json.loads((root / "out-2-0" / "stats.json").read_text())
    print(f"{megabytes:.2f} MB of text in {args.files} files ({args.files} tasks), lite refiner, start-up included")
    print(f"{os.cpu_count()} CPUs")
    print(f"{'workers':<10}{'seconds':>9}{'MB/s':>8}{'speed-up':>10}")
    baseline = min(results[1])
    for workers, seconds in results.items():
        best = min(seconds)
        print(f"{workers:<10}{best:>9.2f}{megabytes / best:>8.2f}{baseline / best:>10.2f}")
    print(f"kept {stats['kept']} of {stats['documents_in']} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
