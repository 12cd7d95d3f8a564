"""`moodsense models install SRC_DIR` and `moodsense models rollback`: switch model sets.

A refused set is one line on stderr and exit code 2; the active set stays as it was. The
service loads models at start, so a switch takes effect at the next restart.
"""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.inference.store import DEFAULT_STORE_DIR, ModelStore, StoreError, SwitchResult
from edge.logsetup import quiet_native_libraries

EXIT_OK = 0
EXIT_REFUSED = 2
RESTART_HINT = "restart the service to load it: systemctl restart moodsense-edge"


def _report(store: ModelStore, result: SwitchResult) -> None:
    versions = ", ".join(f"{name} {version}" for name, version in result.versions.items())
    if not result.changed:
        print(f"model set {result.active} is already active ({versions})")
        return
    print(f"model set {result.active} is now active in {store.root / 'current'} ({versions})")
    if result.previous is not None:
        print(f"previous set {result.previous} kept for `moodsense models rollback`")
    print(RESTART_HINT)


def _switch(
    args: argparse.Namespace, what: str, operation: Callable[[ModelStore], SwitchResult]
) -> int:
    """Run one switch of the store; a refusal leaves the active set and says which it is."""
    quiet_native_libraries()
    store = ModelStore(args.models_dir)
    try:
        result = operation(store)
    except StoreError as error:
        active = store.active() or "none"
        print(f"{what} refused: {error} (active set unchanged: {active})", file=sys.stderr)
        return EXIT_REFUSED
    _report(store, result)
    return EXIT_OK


def _cmd_install(args: argparse.Namespace) -> int:
    return _switch(args, "model set", lambda store: store.install(args.source))


def _cmd_rollback(args: argparse.Namespace) -> int:
    return _switch(args, "rollback", lambda store: store.rollback())


def add_store_parsers(models_commands: "argparse._SubParsersAction[Any]") -> None:
    """Register `models install` and `models rollback` under the `models` command."""
    store_help = f"model store holding current/ and previous/ (default: {DEFAULT_STORE_DIR})"
    install = models_commands.add_parser(
        "install", help="verify a model set in staging, then switch to it (exit 2 if refused)"
    )
    install.add_argument("source", type=Path, help="directory with manifest.toml and models")
    install.add_argument("--models-dir", type=Path, default=DEFAULT_STORE_DIR, help=store_help)
    install.set_defaults(func=_cmd_install)
    rollback = models_commands.add_parser(
        "rollback", help="switch back to the previous model set (verified again first)"
    )
    rollback.add_argument("--models-dir", type=Path, default=DEFAULT_STORE_DIR, help=store_help)
    rollback.set_defaults(func=_cmd_rollback)
