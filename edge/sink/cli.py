"""`moodsense sink --config FILE`: the reference CX-backend consumer (needs the `sink` extra)."""

import argparse
import logging
import sys
from pathlib import Path
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
    from edge.appliance.signals import stop_on_signals
    from edge.config import ConfigError, print_config_error
    from edge.logsetup import configure_logging
    from edge.sink.config import load_sink_config, load_sink_secrets
    from edge.sink.service import SinkService

    try:
        config = load_sink_config(args.config)
        secrets = load_sink_secrets(config)
    except ConfigError as error:
        print_config_error(error)  # the same format as `moodsense config check`
        return EXIT_CONFIG
    configure_logging(config.logging.level)
    stop = stop_on_signals()
    try:
        SinkService(config, secrets).run(stop)
    except psycopg.Error as error:
        # One line for journald (unreachable, refused login, failed migration); systemd's
        # Restart= tries again.
        print("cannot start: database:", " ".join(str(error).split()), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
