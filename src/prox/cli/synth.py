"""`prox synth`: SFT data for refining models; `prox synth labels` makes it from labels that exist already."""

from __future__ import annotations

import argparse
import sys
import time

from prox.chunking import DEFAULT_TOKEN_BUDGET
from prox.synth.labels import AMBIGUOUS_CHOICES, LabelSettings, synth_labels
from prox.synth.output import DEFAULT_RECORDS_PER_SHARD


def add_parser(commands: argparse._SubParsersAction) -> None:
    synth = commands.add_parser(
        "synth",
        help="make SFT data for refining models (records a trainer reads)",
        description="Make SFT records for training ProX refining models: the prompts `prox refine --refiner lm` "
        "sends, each with the program the refiner should write. See docs/synth.md.",
    )
    actions = synth.add_subparsers(dest="action", metavar="ACTION", required=True)
    _add_labels(actions)


def _add_labels(actions: argparse._SubParsersAction) -> None:
    labels = actions.add_parser(
        "labels",
        help="SFT records from line-labelled pages, labelled documents and prox refine outputs (no teacher LLM)",
        description="SFT records without a teacher LLM. SOURCE is a file of line-labelled pages (records with "
        "`lines` and `labels`: chunk records, each chunk's runs of lines labelled 0 as remove_lines calls), a "
        "file of labelled documents (records with `text` and a 0/1 `label`: doc records, keep_doc() or drop_doc()), "
        "or the output folder of a `prox refine` run (any refiner as teacher: its recorded programs executed again). "
        "Files are JSONL (plain, .gz or .zst) or Parquet; sources and OUT may be local paths or URLs. OUT gets "
        "doc-NNNNN.jsonl.gz and chunk-NNNNN.jsonl.gz shards, OUT/rejected (each rejected example with its reason), "
        "OUT/errors (bad input records) and OUT/stats.json. The same input gives the same bytes.",
    )
    labels.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="labelled record files or prox refine output folders"
    )
    labels.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (a path or a URL)")
    labels.add_argument(
        "--tokenizer",
        metavar="DIR",
        help="required: the LM refiner's tokenizer (a directory holding tokenizer.json; for the released ProX "
        "refiners, the Llama-2 tokenizer): doc prompts are cut at 2000 tokens and chunks sized with it",
    )
    labels.add_argument(
        "--stages", default="doc,chunk", help="which records to make: doc, chunk or doc,chunk (default: doc,chunk)"
    )
    labels.add_argument(
        "--chunk-budget",
        type=int,
        default=DEFAULT_TOKEN_BUDGET,
        metavar="N",
        help=f"tokens per chunk, as prox refine --chunk-budget (default: {DEFAULT_TOKEN_BUDGET})",
    )
    labels.add_argument(
        "--ambiguous",
        default="label",
        choices=AMBIGUOUS_CHOICES,
        help="lines of a labelled page whose alignment score is ambiguous (0.2 < score < 0.8): take their 0/1 "
        "label, keep them, or reject the chunks holding one (default: label)",
    )
    labels.add_argument("--limit", type=int, metavar="N", help="read at most N input records, over all sources")
    labels.add_argument(
        "--records-per-shard",
        type=int,
        default=DEFAULT_RECORDS_PER_SHARD,
        metavar="N",
        help=f"records per output shard (default: {DEFAULT_RECORDS_PER_SHARD:,})",
    )
    labels.add_argument("--overwrite", action="store_true", help="replace an earlier synth output in OUT")
    labels.set_defaults(run=run_labels)


def run_labels(args: argparse.Namespace) -> int:
    settings = LabelSettings(
        sources=tuple(args.sources),
        output=args.output,
        tokenizer=args.tokenizer,
        stages=tuple(stage.strip() for stage in args.stages.split(",") if stage.strip()),
        chunk_budget=args.chunk_budget,
        ambiguous=args.ambiguous,
        limit=args.limit,
        records_per_shard=args.records_per_shard,
        overwrite=args.overwrite,
        progress=sys.stderr.isatty(),
    )
    started = time.perf_counter()
    stats = synth_labels(settings)
    print(f"prox synth labels: {summary(stats)} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0 if stats["accounted"] else 1


def summary(stats: dict) -> str:
    """One line: what was written, rejected and bad."""
    inputs, examples, stages = stats["inputs"], stats["examples"], stats["records_per_stage"]
    reasons = stats["rejected_inputs_by_reason"] | stats["rejected_examples_by_reason"]
    why = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items(), key=lambda item: -item[1]))
    return (
        f"wrote {examples['written']:,} records ({stages['doc']:,} doc, {stages['chunk']:,} chunk) from "
        f"{inputs['records']:,} input records; rejected {inputs['rejected']:,} input records and "
        f"{examples['rejected']:,} examples" + (f" ({why})" if why else "") + f"; {inputs['errors']:,} bad input "
        "records"
    )
