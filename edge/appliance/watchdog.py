"""Feed systemd's watchdog only while the pipeline really makes progress.

A probe returns a number that grows while its part works (loop iterations, frames grabbed).
Every interval the watchdog pings systemd only if every probe advanced since the last look;
a hung camera read or a stuck pipeline stops the pings, and systemd restarts the service.
"""

import logging
import threading
from collections.abc import Callable

from edge.appliance.sdnotify import SystemdNotifier

logger = logging.getLogger(__name__)

Probe = Callable[[], int]


class ProgressWatchdog:
    """Runs a thread that pings at `interval_s` while all probes advance."""

    def __init__(self, notifier: SystemdNotifier, interval_s: float, probes: dict[str, Probe]):
        self._notifier, self._interval_s, self._probes = notifier, interval_s, probes
        self._last = {name: probe() for name, probe in probes.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self.pings = 0

    def start(self) -> None:
        """Begin checking and pinging."""
        self._thread.start()

    def check(self) -> list[str]:
        """Names of probes that did not advance since the last check (pings if none)."""
        stalled = []
        for name, probe in self._probes.items():
            value = probe()
            if value <= self._last[name]:
                stalled.append(name)
            self._last[name] = value
        if not stalled and self._notifier.watchdog():
            self.pings += 1
        return stalled

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            stalled = self.check()
            if stalled:
                logger.error("No progress in %s: withholding the watchdog ping", ", ".join(stalled))

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._thread.join(timeout=self._interval_s + 1)
