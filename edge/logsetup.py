"""Logging in one place: one line per record to stderr (journald adds time and unit)."""

import logging
import os
import sys

_NOISY_LIBRARIES = ("absl", "numba", "matplotlib")


def quiet_native_libraries() -> None:
    """Silence native libraries that print to stderr on their own (OpenCV probing absent
    cameras, TFLite's delegate banners): we report those conditions ourselves, once."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")


def configure_logging(level: str) -> None:
    """Root handler to stderr; known library noise capped at WARNING."""
    quiet_native_libraries()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
