"""`prox eval pretrain`: train a small causal LM from scratch on each corpus (same tokens, several seeds) and compare
held-out loss on clean text and zero-shot downstream accuracy (lm-evaluation-harness, local task files)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager

from prox.models import PRESETS, parse_shape
from prox.pretrain import DEFAULT_EVAL_DATA, TASKS, TrainSettings, parse_corpus, parse_tasks, run_proxy
from prox.pretrain.report import markdown

DEFAULT_TOKENIZER = "../shared/tokenizers/llama2"


def add_parser(levels: argparse._SubParsersAction) -> None:
    parser = levels.add_parser(
        "pretrain",
        help="train a small LM on each corpus and compare held-out loss and downstream accuracy",
        description="Train a small causal LM from scratch on each corpus, on the same number of tokens and with "
        "several seeds (transformers Trainer, packed sequences), then score it on held-out clean text (loss, "
        "perplexity) and on zero-shot downstream tasks through lm-evaluation-harness with prox's local task "
        "definitions (no Hub access). Each difference between corpora says whether it exceeds the seed spread "
        "(|mean difference| > 2 x pooled seed std). Writes OUT/results.json, OUT/results.md (also printed) and "
        "OUT/loss.png. Needs pip install 'prox[train]'.",
    )
    parser.add_argument(
        "--corpus",
        action="append",
        required=True,
        metavar="NAME=PATH",
        help="a corpus: a prox refine output folder (its refined documents) or JSONL/Parquet files, folders or "
        "globs of raw documents; give it twice or more",
    )
    parser.add_argument("--heldout", required=True, metavar="FILE", help="held-out clean text: JSONL/Parquet records")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    parser.add_argument(
        "--model",
        default="proxy-small",
        metavar="SHAPE",
        help=f"model size: a preset ({', '.join(PRESETS)}) or llama:layers=L,hidden=H,heads=A,kv_heads=K,ffn=F "
        "(default: proxy-small, about 2M parameters besides the embeddings)",
    )
    parser.add_argument(
        "--tokens",
        type=int,
        default=0,
        help="training tokens per run (default: what the smallest corpus holds, so no corpus is repeated)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per corpus (0, 1, ...; default: 3)")
    parser.add_argument("--block", type=int, default=256, help="tokens per packed sequence (default: 256)")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per step (default: 16)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    parser.add_argument("--evals", type=int, default=8, help="held-out evaluations over a run (default: 8)")
    parser.add_argument("--heldout-tokens", type=int, default=65536, help="held-out tokens scored (default: 65,536)")
    parser.add_argument(
        "--tasks",
        default="all",
        help=f"comma-separated lm-eval task names, 'all' or 'none' (default: all: {', '.join(TASKS)})",
    )
    parser.add_argument(
        "--eval-data",
        default=str(DEFAULT_EVAL_DATA),
        metavar="DIR",
        help=f"folder of the downstream evaluation files (default: {DEFAULT_EVAL_DATA})",
    )
    parser.add_argument("--eval-limit", type=int, default=None, help="score only the first N examples of each task")
    parser.add_argument(
        "--tokenizer", default=DEFAULT_TOKENIZER, metavar="DIR", help=f"default: {DEFAULT_TOKENIZER} (Llama-2)"
    )
    parser.add_argument("--text-key", default="text", help="record field holding the text (default: text)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    corpora = [parse_corpus(spec) for spec in args.corpus]
    if len(corpora) < 2:
        raise ValueError("give at least two --corpus NAME=PATH to compare")
    if args.seeds < 1:
        raise ValueError("--seeds must be at least 1")
    tasks = [] if args.tasks.strip() == "none" else parse_tasks(args.tasks)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    settings = TrainSettings(
        shape=parse_shape(args.model),
        tokenizer_dir=args.tokenizer,
        tokens=args.tokens,
        block=args.block,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        evals=args.evals,
    )
    with torch_threads(args.threads):
        results = run_proxy(
            corpora,
            args.heldout,
            args.output,
            settings,
            seeds=range(args.seeds),
            heldout_tokens=args.heldout_tokens,
            tasks=tasks,
            eval_data=args.eval_data,
            eval_limit=args.eval_limit,
            text_key=args.text_key,
        )
    print(markdown(results), end="")
    return 0


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch limited to `threads` CPU threads while the block runs (as it was, after)."""
    if not threads:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
