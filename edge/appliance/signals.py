"""SIGTERM (systemd stop) and SIGINT (Ctrl-C) become one stop event the main loop waits on."""

import signal
import threading
from types import FrameType


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT; call from the main thread."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
