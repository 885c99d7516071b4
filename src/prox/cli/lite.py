"""`prox lite train`: build a lite refiner from labelled pages, labelled documents and teacher outputs."""

from __future__ import annotations

import argparse
import json
import sys
import time

from prox.lite.data import LabelledPage, read_examples
from prox.lite.training import TrainingSettings, train_lite
from prox.storage import require_output_place

DEFAULT_MODEL_COMMAND = (
    "prox lite train ../shared/data/line_labels/wcxb_dev.jsonl.gz "
    "../shared/data/line_labels/readability_testpages.jsonl.gz ../shared/data/dclm_quality/dev.jsonl.gz "
    "-o src/prox/lite/default_model"
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    lite = commands.add_parser(
        "lite",
        help="build the lite refiner (the CPU-fast default) from labelled data",
        description="The lite refiner writes ProX programs with small learned models: a line model "
        "(remove_lines / normalize) and a document model (keep_doc / drop_doc).",
    )
    actions = lite.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser(
        "train",
        help="train a lite model folder",
        description="Train a lite model from any mix of: line-labelled pages (records with `lines` and `labels`, "
        "or `snippet_labels`), documents with a 0/1 `label` (records with `text` and `label`), and output folders "
        "of `prox refine` run with another refiner (the student learns that teacher's programs), and `prox synth` "
        "output folders (SFT records: their target programs label documents and lines). Record files are "
        "JSONL (plain, .gz or .zst) or Parquet. Inputs and the model folder may be local paths or URLs (s3://, "
        "gs://, hf://datasets/..., any fsspec URL). Prints cross-validated metrics (folds are whole pages or "
        "documents), then fits on everything and writes the model folder. Deterministic for a seed. The model "
        f"shipped with prox was built with: {DEFAULT_MODEL_COMMAND}",
    )
    train.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="labelled record files, prox refine or prox synth output folders (paths or URLs)",
    )
    train.add_argument(
        "-o", "--output", required=True, metavar="MODEL_DIR", help="where to write the model folder (a path or a URL)"
    )
    train.add_argument("--folds", type=int, default=5, help="cross-validation folds; 0 skips validation (default: 5)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--rounds", type=int, default=TrainingSettings.rounds, help="boosting rounds of the line model")
    train.add_argument("--threads", type=int, default=0, help="training threads (default: all cores)")
    train.add_argument("--json", action="store_true", help="print the training report as JSON at the end")
    train.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    if args.folds < 0 or args.rounds < 1:
        raise ValueError("--folds must be 0 or more and --rounds at least 1")
    require_output_place(args.output)  # before the inputs are read and the models trained
    pages, docs = [], []
    for path in args.inputs:
        for example in read_examples(path):
            (pages if isinstance(example, LabelledPage) else docs).append(example)
    if not pages and not docs:
        raise ValueError("the inputs hold no labelled pages or documents")
    progress = _progress
    progress(f"read {len(pages)} labelled pages and {len(docs)} labelled documents")
    settings = TrainingSettings(seed=args.seed, folds=args.folds, rounds=args.rounds, threads=args.threads)
    started = time.perf_counter()
    model = train_lite(pages, docs, settings, progress)
    model.report["inputs"] = list(args.inputs)
    model.save(args.output)
    progress(f"wrote {args.output} in {time.perf_counter() - started:.0f} s")
    if args.json:
        print(json.dumps(model.report, indent=2))
    return 0


def _progress(message: str) -> None:
    print(f"prox lite train: {message}", file=sys.stderr, flush=True)
