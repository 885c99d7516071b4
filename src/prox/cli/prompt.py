"""`prox prompt`: print the exact prompts the released refiners see for one document."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from prox.chunking import DEFAULT_TOKEN_BUDGET, token_counter
from prox.prompts import DOC_PROMPT_MAX_TOKENS, chunk_prompts, doc_prompt
from prox.tokenizer import load_tokenizer


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "prompt",
        help="print the doc- or chunk-stage prompt(s) for one document",
        description="Print the prompts the released ProX refiners see for the document in FILE (plain text; "
        "'-' reads standard input): the Llama-2 chat template with the ProX system prompt; the doc stage "
        "truncated to --max-prompt-tokens, the chunk stage packed into chunks of --budget tokens.",
    )
    parser.add_argument("file", metavar="FILE", help="the document, as plain text ('-' for standard input)")
    parser.add_argument("--stage", choices=("doc", "chunk"), required=True, help="which refining stage")
    parser.add_argument("--tokenizer", required=True, metavar="DIR", help="directory with the refiner's tokenizer.json")
    parser.add_argument(
        "--budget", type=int, default=DEFAULT_TOKEN_BUDGET, help="chunk stage: tokens per chunk (default 1500)"
    )
    parser.add_argument(
        "--max-prompt-tokens",
        type=int,
        default=DOC_PROMPT_MAX_TOKENS,
        help="doc stage: truncate the templated prompt to this many tokens (default 2000, as released)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of prompt strings")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    text = _read_document(args.file)
    tokenizer = load_tokenizer(args.tokenizer)
    if args.stage == "doc":
        prompt = doc_prompt(text, tokenizer, args.max_prompt_tokens)
        prompts = [prompt.text]
        headers = [f"doc prompt, {len(prompt.token_ids)} tokens" + (" (truncated)" if prompt.truncated else "")]
    else:
        chunked = chunk_prompts(text, token_counter(tokenizer), args.budget)
        prompts = [prompt.text for prompt in chunked]
        headers = [
            f"chunk {number}/{len(chunked)}: lines {p.chunk.first_line}-{p.chunk.last_line}, {p.chunk.size} tokens"
            for number, p in enumerate(chunked, start=1)
        ]
    if args.json:
        json.dump(prompts, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    for header, prompt_text in zip(headers, prompts, strict=True):
        sys.stdout.write(f"### {header}\n{prompt_text}\n")
    return 0


def _read_document(name: str) -> str:
    if name == "-":
        text = sys.stdin.read()
        return text[:-1] if text.endswith("\n") else text
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    # A text file's final newline ends its last line; it is not an empty line of the document.
    return text[:-1] if text.endswith("\n") else text
