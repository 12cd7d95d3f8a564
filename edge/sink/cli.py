"""`moodsense sink --config FILE`: the reference CX-backend consumer (needs the `sink` extra)."""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
INSTALL_HINT = "the sink needs psycopg: pip install 'moodsense-edge[sink]'"


def add_sink_parser(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Register the `sink` subcommand on the `moodsense` parser."""
    sink = subparsers.add_parser(
        "sink", help="consume the fleet's events into PostgreSQL (shared subscription)"
    )
    sink.add_argument("--config", type=Path, required=True, help="sink YAML config")
    sink.set_defaults(func=_cmd_sink)


def _cmd_sink(args: argparse.Namespace) -> int:
    try:
        import psycopg  # here, to fail with a hint rather than deep inside a thread
    except ImportError:
        print(f"cannot start: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_CONFIG
    from edge.config import ConfigError
    from edge.logsetup import configure_logging
    from edge.sink.config import load_sink_config, load_sink_secrets
    from edge.sink.service import SinkService

    try:
        config = load_sink_config(args.config)
        secrets = load_sink_secrets(config)
    except ConfigError as error:
        # Same format as `moodsense config check`; edge.cli is not imported (it pulls numpy).
        print(f"invalid configuration ({error.source}):", file=sys.stderr)
        print("\n".join(f"  {problem}" for problem in error.problems), file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(config.logging.level)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        SinkService(config, secrets).run(stop)
    except psycopg.Error as error:
        # One line for journald (unreachable, refused login, failed migration); systemd's
        # Restart= tries again.
        print("cannot start: database:", " ".join(str(error).split()), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
