"""`prox report` on a large output: build time, peak memory and page size, against reading the output alone.

Builds an output folder of `--documents` documents (default 100,000) from a `prox refine` run of the demo
corpus: its refined and dropped records repeated with new ids and input positions over `--files` files, with a
`stats.json` that adds them up and the demo run's manifest. Then, each in a fresh process:

- **read**: every record of the output read and JSON-decoded with `prox.records.reading` (the floor: no report
  can read less);
- **report**: `build_report(OUT, sample=--sample)` (one streaming pass, replaying every document's programs,
  plots and the page).

It prints, for each, seconds, records/s and peak resident memory (ru_maxrss), the report's ratio to the read,
and the page's size in MB.

    python benchmarks/report_speed.py [--documents 100000] [--sample 1000] [--files 8] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from prox.cli import main as prox
from prox.records.files import output_files
from prox.records.layouts import record_metadata
from prox.records.reading import read_records

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"

_MEASURE = """
import json, resource, sys, time
start = time.perf_counter()
if sys.argv[1] == "read":
    from prox.records.files import output_files
    from prox.records.reading import read_records
    from prox.storage import join
    count = 0
    for folder in (sys.argv[2], join(sys.argv[2], "dropped"), join(sys.argv[2], "errors")):
        for path in output_files(folder):
            count += sum(1 for _ in read_records(path))
    size = 0
else:
    from prox.report import build_report
    page = build_report(sys.argv[2], sample=int(sys.argv[3]))
    size = len(page.encode())
    with open(sys.argv[4], "w", encoding="utf-8") as handle:
        handle.write(page)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "bytes": size}))
"""


def synthesise(out: Path, documents: int, files: int) -> dict:
    """An output folder of `documents` records made from the demo run's records; its stats.json."""
    demo = out.parent / "demo-run"
    if prox(["refine", str(DEMO / "pages.jsonl"), "-o", str(demo), "--overwrite"]) != 0:
        sys.exit("prox refine of the demo corpus failed")
    kept = [record.data for path in output_files(demo) for record in read_records(path)]
    dropped = [record.data for path in output_files(demo / "dropped") for record in read_records(path)]
    templates = [(record, "kept") for record in kept] + [(record, "dropped") for record in dropped]
    (out / "dropped").mkdir(parents=True)
    (out / "logs").mkdir()
    totals: Counter = Counter()
    with contextlib.ExitStack() as stack:
        handles = {}
        for index in range(files):
            paths = {"kept": out / f"{index:05d}.jsonl.gz", "dropped": out / "dropped" / f"doc_{index:05d}.jsonl.gz"}
            for place, path in paths.items():
                handles[index, place] = stack.enter_context(gzip.open(path, "wt", encoding="utf-8"))
        _write_copies(handles, templates, documents, files, totals)
    dropped_by = {name[8:]: count for name, count in sorted(totals.items()) if name.startswith("dropped_")}
    # The fields of stats.json, in its order.
    stats = {
        "tasks": files,
        "tasks_finished": files,
        "documents_in": totals["documents_in"],
        "kept": totals["kept"],
        "kept_by_decision": {name[5:]: count for name, count in sorted(totals.items()) if name.startswith("kept_")},
        "dropped": sum(dropped_by.values()),
        "dropped_by_reason": dropped_by,
        "errors": 0,
        "generation_failures": 0,
        "accounted": True,
        "lines_removed": totals["lines_removed"],
        "normalizations": totals["normalizations"],
        "program_errors": 0,
        "programs_cut": 0,
        "chars_in": totals["chars_in"],
        "chars_out": totals["chars_out"],
        "words_in": totals["words_in"],
        "words_out": totals["words_out"],
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    manifest = json.loads((demo / "logs" / "prox-run.json").read_text())
    manifest["tasks"] = files
    (out / "logs" / "prox-run.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return stats


def _write_copies(handles: dict, templates: list, documents: int, files: int, totals: Counter) -> None:
    """`documents` copies of the template records, each with its own id and input position, counted in `totals`."""
    for number in range(documents):
        template, place = templates[number % len(templates)]
        record = json.loads(json.dumps(template))
        part, line = number % files, number // files + 1
        record["id"] = f"{template['id']}-{number:07d}"
        prox_record = record_metadata(record)["prox"]
        prox_record["source"] = f"part-{part:02d}.jsonl:{line}"
        original = prox_record.get("raw_content") or record["text"]
        totals["documents_in"] += 1
        totals["chars_in"] += len(original)
        totals["words_in"] += len(original.split())
        if place == "kept":
            totals["kept"] += 1
            totals[f"kept_{prox_record.get('chunk_decision')}"] += 1
            totals["lines_removed"] += prox_record.get("removed_lines", 0)
            totals["normalizations"] += prox_record.get("normalizations", 0)
            totals["chars_out"] += len(record["text"])
            totals["words_out"] += len(record["text"].split())
        else:
            totals[f"dropped_{prox_record.get('drop_reason')}"] += 1
        handles[part, place].write(json.dumps(record, ensure_ascii=False) + "\n")


def measure(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--keep", type=Path, default=None, help="build the output here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="prox-report-bench-"))
    out = root / "out"
    if out.exists():
        shutil.rmtree(out)
    try:
        stats = synthesise(out, args.documents, args.files)
        data_mb = sum(path.stat().st_size for path in out.rglob("*.jsonl.gz")) / 1e6
        print(
            f"output: {stats['documents_in']:,} documents ({stats['kept']:,} kept, {stats['dropped']:,} dropped), "
            f"{stats['chars_in'] / 1e6:.1f} M characters, {data_mb:.1f} MB gzip JSONL in {args.files} files"
        )
        read = measure("read", str(out))
        page = root / "report.html"
        built = measure("report", str(out), str(args.sample), str(page))
        print(f"{'':<8}{'seconds':>10}{'records/s':>12}{'peak RSS MB':>14}")
        for name, result in (("read", read), ("report", built)):
            rate = stats["documents_in"] / result["seconds"]
            print(f"{name:<8}{result['seconds']:>10.1f}{rate:>12,.0f}{result['max_rss_kb'] / 1024:>14.0f}")
        print(f"report / read: {built['seconds'] / read['seconds']:.2f}x the time")
        print(f"page: {built['bytes'] / 1e6:.2f} MB with --sample {args.sample} ({page})")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
