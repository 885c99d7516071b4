"""`prox verify OUT`: every input record exactly once across OUT, OUT/dropped and OUT/errors."""

from __future__ import annotations

import argparse

from prox.pipeline.verify import format_verification, verify_output


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "verify",
        help="check that every input record of a run ended exactly once in its output folder",
        description="Read the inputs listed in OUT/logs/prox-run.json again and check, from what is on disk, that "
        "every input record (bad ones included) appears exactly once across OUT, OUT/dropped and OUT/errors; that "
        "every output file decodes; and that every task finished. Exit status 0 when it holds, 1 when not.",
    )
    parser.add_argument("output", metavar="OUT", help="the output folder of prox refine or prox execute")
    parser.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    result = verify_output(args.output)
    print(format_verification(args.output, result))
    return 0 if result.ok else 1
