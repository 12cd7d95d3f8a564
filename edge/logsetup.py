"""Logging in one place: one line per record to stderr, repeats rate-limited.

Under systemd (stderr is the journal stream named by $JOURNAL_STREAM) lines carry a syslog
priority prefix (`<4>`) instead of a timestamp: journald adds time, unit and pid itself and
maps the prefix to its priority, so `journalctl -p warning` works. Run by hand, lines start
with the local time.
"""

import logging
import os
import sys
from typing import TextIO

from edge.appliance.log_limit import install

_NOISY_LIBRARIES = ("absl", "numba", "matplotlib")
_REPEAT_INTERVAL_S = 60.0
# Python level -> syslog priority (sd-daemon(3) prefixes).
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


def quiet_native_libraries() -> None:
    """Silence native libraries that print to stderr on their own (OpenCV probing absent
    cameras, TFLite's delegate banners): we report those conditions ourselves, once."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")


def logs_to_journal(stream: TextIO) -> bool:
    """True if `stream` is the journal connection systemd gave us ($JOURNAL_STREAM is
    `device:inode` of it; a child whose stderr was redirected elsewhere must not match)."""
    device, _sep, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (stat.st_dev, stat.st_ino) == (int(device), int(inode))


class JournalFormatter(logging.Formatter):
    """`<priority>LEVEL logger: message`, no timestamp (journald has it)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The line with its syslog priority prefix."""
        priority = _PRIORITY.get(record.levelno, 2 if record.levelno > logging.ERROR else 7)
        return f"<{priority}>{super().format(record)}"


def make_handler(stream: TextIO) -> logging.StreamHandler[TextIO]:
    """A stderr handler formatted for the journal or a terminal, with the repeat limiter."""
    handler = logging.StreamHandler(stream)
    if logs_to_journal(stream):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    install(handler, _REPEAT_INTERVAL_S)
    return handler


def configure_logging(level: str) -> None:
    """Root handler to stderr; known library noise capped at WARNING."""
    quiet_native_libraries()
    root = logging.getLogger()
    root.handlers[:] = [make_handler(sys.stderr)]
    root.setLevel(level)
    for name in _NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
