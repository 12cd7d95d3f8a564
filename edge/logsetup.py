"""Logging in one place: one line per record to stderr (journald adds time and unit)."""

import logging
import sys

_NOISY_LIBRARIES = ("absl", "numba", "matplotlib")


def configure_logging(level: str) -> None:
    """Root handler to stderr; known library noise capped at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
