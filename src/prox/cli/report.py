"""`prox report OUT [--compare OUT_B]`: a self-contained HTML page about a run, or two runs side by side."""

from __future__ import annotations

import argparse

from prox import storage
from prox.report import DEFAULT_SAMPLE, build_comparison, build_report


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="write an HTML report of a run: its account, plots and a before/after document viewer",
        description="Read the output folder of a prox refine or prox execute run (JSONL or Parquet, either layout, "
        "a local path or a URL) once, streaming, and write one self-contained HTML file (no network needed to view "
        "it): the run's account from stats.json, plots, and a viewer of a reproducible sample of documents with "
        "their programs, removed lines struck through and normalize edits highlighted. With --compare, two runs "
        "over the same input side by side: how far their decisions and removed lines agree, and the documents "
        "where they disagree most. Needs matplotlib: pip install 'prox[report]'.",
    )
    parser.add_argument("output", metavar="OUT", help="the output folder of prox refine or prox execute")
    parser.add_argument(
        "-o",
        dest="html",
        metavar="FILE",
        default=None,
        help="where to write the page (default: OUT/report.html, or OUT/compare-report.html with --compare)",
    )
    parser.add_argument(
        "--compare",
        metavar="OUT_B",
        default=None,
        help="another run's output folder over the same input (e.g. --refiner rules, or prox execute --policy strict)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=DEFAULT_SAMPLE,
        metavar="N",
        help=f"documents in the viewer (default: {DEFAULT_SAMPLE}): an equal share per decision, drawn uniformly "
        "(with --compare: the N where the runs disagree most)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    progress = not args.no_progress
    if args.compare is None:
        page = build_report(args.output, sample=args.sample, seed=args.seed, progress=progress)
        target = args.html or storage.join(args.output, "report.html")
    else:
        page = build_comparison(args.output, args.compare, sample=args.sample, seed=args.seed, progress=progress)
        target = args.html or storage.join(args.output, "compare-report.html")
    storage.write_text(target, page)
    print(f"wrote {target} ({len(page.encode()) / 1e6:.1f} MB)")
    return 0
