"""`prox eval lines|docs`: score any refiner's programs against gold labels; `prox eval pretrain` (in
`eval_pretrain.py`): train small LMs on corpora and compare them."""

from __future__ import annotations

import argparse
import json

from prox.cli import eval_pretrain
from prox.cli.options import add_refiner_options, refiner_from_args
from prox.evaluation import evaluate_docs, evaluate_lines
from prox.evaluation.docs import read_labelled_docs
from prox.evaluation.lines import read_pages
from prox.program import POLICIES, get_policy


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval",
        help="score a refiner against gold labels (lines, docs), or compare corpora by training small LMs (pretrain)",
        description="Score a refiner's programs against gold labels (`prox eval lines|docs`), or train a small LM "
        "on each of several corpora and compare them on held-out text and downstream tasks (`prox eval pretrain`).",
    )
    levels = parser.add_subparsers(dest="level", metavar="WHAT", required=True)
    for level, what in (
        (
            "lines",
            "pages with a keep(1)/remove(0) label per line (the schema of ../shared/data/line_labels/*.jsonl.gz), "
            "scored with the shared data's protocol (skip pages with gold_empty or gold_recall < 0.9 and lines with "
            "0.2 < score < 0.8; micro-average over lines; precision/recall/F1 of the keep and the remove class)",
        ),
        (
            "docs",
            "documents with a 0/1 `label` (the schema of ../shared/data/dclm_quality/dev.jsonl.gz): accuracy, "
            "keep-F1, balanced accuracy",
        ),
    ):
        _add_gold_parser(levels, level, what)
    eval_pretrain.add_parser(levels)


def _add_gold_parser(levels: argparse._SubParsersAction, level: str, what: str) -> None:
    parser = levels.add_parser(
        level,
        help=f"score a refiner's {'chunk' if level == 'lines' else 'doc'} programs against gold labels",
        description=f"Score a refiner's programs against gold labels: {what}.",
    )
    parser.add_argument(
        "--gold",
        required=True,
        metavar="FILE",
        help="gold file: JSONL (plain, .gz or .zst) or Parquet; a path or a URL (s3://, gs://, hf://datasets/...)",
    )
    parser.add_argument("--policy", default="release", choices=tuple(POLICIES), help="default: release")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages or documents")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    add_refiner_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stages = ("chunk",) if args.level == "lines" else ("doc",)
    generator = refiner_from_args(args, stages).build()
    policy = get_policy(args.policy)
    try:
        if args.level == "lines":
            scores = evaluate_lines(read_pages(args.gold, args.limit), generator, policy)
        else:
            scores = evaluate_docs(read_labelled_docs(args.gold, args.limit), generator, policy)
    finally:
        generator.close()
    scores = {"gold": args.gold, "level": args.level, "refiner": args.refiner, "policy": args.policy, **scores}
    if args.json:
        print(json.dumps(scores, indent=2))
        return 0
    for name, value in scores.items():
        print(f"{name:<20}{value:.4f}" if isinstance(value, float) else f"{name:<20}{value}")
    return 0
