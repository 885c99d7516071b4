"""`prox cost`: refining FLOPs and GPU hours against training FLOPs, and the break-even in training tokens."""

from __future__ import annotations

import argparse
import json

from prox.pretrain.cost import CHARS_PER_TOKEN, CostInput, account, format_account, tokens_from_stats


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "cost",
        help="refining compute against training compute: FLOPs, GPU hours, break-even tokens",
        description="The ProX cost account: refining FLOPs ~ 2 x refiner params x (raw tokens + tokens after the "
        "doc stage), training FLOPs ~ 6 x params x tokens, GPU hours at a measured throughput, and the break-even: "
        "the extra training tokens the refining compute would have bought. Numbers take k/M/B/T suffixes "
        "(313M, 62.5B). The ProX paper's 0.3B refiners: prox cost --refiner-params 313M --raw-tokens 62.5B "
        "--doc-kept-tokens 19B (about 5.1e19 FLOPs).",
    )
    parser.add_argument("--refiner-params", type=amount, required=True, metavar="N", help="refiner parameters")
    parser.add_argument("--raw-tokens", type=amount, metavar="D", help="raw tokens refined")
    parser.add_argument(
        "--doc-kept-tokens",
        type=amount,
        metavar="D2",
        help="tokens the doc stage keeps, which the chunk stage reads (default: all raw tokens, an upper bound)",
    )
    parser.add_argument(
        "--stats",
        metavar="OUT",
        help="a prox refine output folder or its stats.json: raw and doc-kept tokens estimated from its characters "
        "and doc-stage drops, instead of --raw-tokens and --doc-kept-tokens",
    )
    parser.add_argument(
        "--chars-per-token",
        type=float,
        default=CHARS_PER_TOKEN,
        help=f"for --stats: characters per token (default: {CHARS_PER_TOKEN}, Llama-2 on web pages)",
    )
    parser.add_argument("--train-params", type=amount, metavar="N2", help="parameters of the model to be trained")
    parser.add_argument("--train-tokens", type=amount, metavar="D3", help="tokens it is trained on")
    parser.add_argument(
        "--throughput", type=amount, metavar="TOK_PER_S", help="measured refiner tokens read per second per GPU"
    )
    parser.add_argument("--json", action="store_true", help="print the account as JSON")
    parser.set_defaults(run=run)


def amount(text: str) -> float:
    """A number with an optional k/M/B/T suffix (62.5B) or in e-notation (6.25e10)."""
    scales = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
    try:
        if text and text[-1] in scales:
            return float(text[:-1]) * scales[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. 313M, 62.5B, 6.25e10)") from None


def run(args: argparse.Namespace) -> int:
    raw, kept = args.raw_tokens, args.doc_kept_tokens
    if args.stats:
        if raw is not None or kept is not None:
            raise ValueError("give either --stats or --raw-tokens/--doc-kept-tokens, not both")
        raw, kept = tokens_from_stats(args.stats, args.chars_per_token)
    elif raw is None:
        raise ValueError("give --raw-tokens (or --stats with a prox refine output)")
    result = account(
        CostInput(
            refiner_params=args.refiner_params,
            raw_tokens=raw,
            doc_kept_tokens=kept,
            train_params=args.train_params,
            train_tokens=args.train_tokens,
            throughput=args.throughput,
        )
    )
    print(json.dumps(result, indent=2) if args.json else format_account(result), end="\n" if args.json else "")
    return 0
