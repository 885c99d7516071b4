"""The `prox` command line: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import errno
import sys

from prox import __version__
from prox.cli import cost, evaluate, lite, prompt, refine, report, synth, train, verify


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prox",
        description="Refine LLM pre-training corpora the ProX way: a small model writes a program for "
        "every document and chunk, and a safe executor runs it.",
    )
    parser.add_argument("--version", action="version", version=f"prox {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    refine.add_parsers(commands)
    evaluate.add_parser(commands)
    cost.add_parser(commands)
    lite.add_parser(commands)
    prompt.add_parser(commands)
    report.add_parser(commands)
    synth.add_parser(commands)
    train.add_parser(commands)
    verify.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (CommandError, FileNotFoundError, ValueError) as error:
        print(f"prox {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        where = f" writing {error.filename}" if error.filename else ""
        print(
            f"prox {args.command}: error: no space left on the device{where}; free some space and run the same "
            "command again (finished tasks are kept)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"prox {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
