"""Keep the outbox from filling the disk: bound it by free space as well as by count.

`outbox.max_events` bounds the outbox by events, but a kiosk's SD card can be nearly full
before that bound is reached (logs, other state), and a write that fails for lack of space
drops nothing and only retries. Checked every second, the guard lowers the outbox's bound to
its current depth while less than `reserve_bytes` are free on its filesystem: from then on
each new event pushes out the oldest one, counted in `outbox.dropped_total`, as with the
count bound. The reserve covers SQLite's write-ahead log between checkpoints (up to ~4 MiB).
The configured bound comes back once twice the reserve is free again.
"""

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

DEFAULT_RESERVE_BYTES = 8 * 1024 * 1024
MIN_EVENTS = 100
"""The lowered bound never goes below this (a few tens of KiB): the newest events survive."""
_MIB = 1024 * 1024


class BoundedQueue(Protocol):
    """The part of `edge.publish.outbox.Outbox` the guard adjusts."""

    path: Path
    max_events: int
    depth: int


def free_bytes(path: Path) -> int:
    """Bytes available to this (unprivileged) process on the filesystem holding `path`."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


class DiskGuard:
    """Lowers and restores the outbox bound from the free space on its filesystem."""

    def __init__(
        self,
        outbox: BoundedQueue,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
        free: Callable[[Path], int] = free_bytes,
    ) -> None:
        self._outbox, self._reserve, self._free = outbox, reserve_bytes, free
        self.configured_max = outbox.max_events
        self.low = False
        """True while the bound is lowered for lack of space."""

    def check(self) -> None:
        """Compare free space with the reserve; adjust the bound (one log line per change)."""
        try:
            available = self._free(self._outbox.path.parent)
        except OSError:
            return  # the directory vanished or is unreadable: the outbox reports that itself
        outbox = self._outbox
        if available < self._reserve:
            lowered = max(MIN_EVENTS, min(outbox.max_events, outbox.depth))
            if lowered < outbox.max_events:
                outbox.max_events = lowered
            if not self.low:
                self.low = True
                logger.warning(
                    "Disk nearly full (%.1f MiB free): outbox held at %d events, oldest "
                    "dropped first",
                    available / _MIB,
                    outbox.max_events,
                )
        elif self.low and available >= 2 * self._reserve:
            self.low = False
            outbox.max_events = self.configured_max
            logger.info(
                "Disk space back (%.1f MiB free): outbox bound %d events again",
                available / _MIB,
                self.configured_max,
            )
