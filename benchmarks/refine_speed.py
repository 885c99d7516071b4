"""End-to-end speed of `prox refine --refiner rules` against a plain datatrove pipeline, in one run.

Both read the same JSONL corpus (the full-page text of the WCXB pages in ../shared/data/line_labels) and
apply datatrove's Gopher repetition, Gopher quality, C4 and FineWeb quality filters; prox also writes,
parses and executes a ProX program for every document and chunk and accounts for every document. Each
side runs as its own process, start-up included, on one task.

    python benchmarks/refine_speed.py [--pages N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PAGES = SHARED / "data" / "line_labels" / "wcxb_dev.jsonl.gz"

PLAIN_DATATROVE = """
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.logging import logger

logger.disable("datatrove")
source, output = sys.argv[1], sys.argv[2]
LocalPipelineExecutor(
    [
        JsonlReader(source),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(),
        FineWebQualityFilter(),
        JsonlWriter(output),
    ],
    tasks=1,
    workers=1,
    logging_dir=output + "/logs",
).run()
"""


def write_corpus(folder: Path, limit: int | None) -> float:
    """The pages as one JSONL file; returns its text size in MB."""
    size = 0
    with gzip.open(PAGES, "rt", encoding="utf-8") as pages, open(folder / "pages.jsonl", "w") as corpus:
        for number, line in enumerate(pages):
            if limit is not None and number >= limit:
                break
            page = json.loads(line)
            text = "\n".join(page["lines"])
            if text.strip():
                size += len(text.encode("utf-8"))
                corpus.write(json.dumps({"id": page["id"], "text": text}) + "\n")
    return size / 1e6


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=None, help="number of pages (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; the fastest counts (default 1)")
    args = parser.parse_args()
    if not PAGES.exists():
        print(f"needs {PAGES} (the shared development data)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "in").mkdir()
        megabytes = write_corpus(root / "in", args.pages)
        results = {"datatrove filters": [], "prox refine --refiner rules": []}
        for attempt in range(args.repeat):
            plain = [sys.executable, "-c", PLAIN_DATATROVE, str(root / "in"), str(root / f"plain{attempt}")]
            prox = [sys.executable, "-m", "prox", "refine", str(root / "in"), "-o", str(root / f"prox{attempt}")]
            results["datatrove filters"].append(timed(plain))
            results["prox refine --refiner rules"].append(timed(prox))
        stats = json.loads((root / "prox0" / "stats.json").read_text())
    baseline = min(results["datatrove filters"])
    print(f"{megabytes:.2f} MB of text, one task on one core, start-up included")
    print(f"{'pipeline':<30}{'seconds':>9}{'MB/s':>8}{'ratio':>8}")
    for name, seconds in results.items():
        best = min(seconds)
        print(f"{name:<30}{best:>9.2f}{megabytes / best:>8.2f}{baseline / best:>8.2f}")
    print(f"prox kept {stats['kept']} of {stats['documents_in']} documents, removed {stats['lines_removed']} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
