"""`python -m edge.sink sink --config FILE`: the sink without the full `moodsense` CLI."""

import argparse
import sys

from edge.sink.cli import add_sink_parser


def main() -> int:
    """Parse the arguments and run the sink; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m edge.sink")
    add_sink_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args()
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
