"""Rate-limit repeated log lines so a flapping device or a flood cannot bury the journal.

The first record of a kind goes through; identical ones within `interval_s` are held back
and counted. The next one after the interval carries the count ("... (12 repeats
suppressed)"), and `flush()` (called every second by the service) writes the last held-back
record of each kind once its interval is over, oldest first, so the journal always ends
with the newest state even when nothing else is logged.

A record's kind is its logger, level and message template; a caller can name a finer kind
with `extra={"repeat_key": ...}` (e.g. one per consent state, so a change is never taken
for a repeat of another).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_MAX_KINDS = 1024  # a bound even if messages were built with f-strings


@dataclass(slots=True)
class _Kind:
    emitted_s: float
    held: int = 0
    last: logging.LogRecord | None = None
    last_s: float = 0.0


def _with_count(record: logging.LogRecord, held: int) -> logging.LogRecord:
    """`record`, its message now ending with the number of held-back repeats (in place:
    filters on Python 3.11 cannot hand back a replacement record)."""
    record.msg, record.args = f"{record.getMessage()} ({held} repeats suppressed)", None
    return record


class RepeatLimiter(logging.Filter):
    """A handler filter: lets one record per kind through per `interval_s`."""

    def __init__(
        self,
        handler: logging.Handler,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._handler, self._interval_s, self._clock = handler, interval_s, clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        """True to emit (with the held-back count added to the message), False to hold back."""
        key = (record.name, record.levelno, str(getattr(record, "repeat_key", record.msg)))
        now = self._clock()
        with self._lock:
            kind = self._kinds.get(key)
            if kind is None:
                if len(self._kinds) >= _MAX_KINDS:
                    self._kinds.clear()
                self._kinds[key] = _Kind(emitted_s=now)
                return True
            if now - kind.emitted_s < self._interval_s:
                kind.held += 1
                kind.last, kind.last_s = record, now
                return False
            held, kind.emitted_s, kind.held, kind.last = kind.held, now, 0, None
        if held:
            _with_count(record, held)
        return True

    def flush(self) -> int:
        """Write each kind's last held-back record whose interval is over; returns how many."""
        now = self._clock()
        due: list[tuple[float, logging.LogRecord]] = []
        with self._lock:
            for kind in self._kinds.values():
                if kind.last is not None and now - kind.emitted_s >= self._interval_s:
                    due.append((kind.last_s, _with_count(kind.last, kind.held)))
                    kind.emitted_s, kind.held, kind.last = now, 0, None
        for _when, record in sorted(due, key=lambda item: item[0]):
            self._handler.acquire()
            try:
                self._handler.emit(record)  # past the filter: it was already counted
            finally:
                self._handler.release()
        return len(due)


_installed: list[RepeatLimiter] = []


def install(handler: logging.Handler, interval_s: float = 60.0) -> RepeatLimiter:
    """Add a limiter to `handler` and remember it for `flush_repeats()`."""
    limiter = RepeatLimiter(handler, interval_s)
    handler.addFilter(limiter)
    _installed[:] = [limiter]
    return limiter


def flush_repeats() -> None:
    """Write what the installed limiter held back once its interval is over (cheap no-op
    without one)."""
    for limiter in _installed:
        limiter.flush()
