"""systemd's notify protocol: one datagram per message to $NOTIFY_SOCKET; a no-op without it.

See sd_notify(3). An address starting with '@' is in the abstract namespace.
"""

import logging
import os
import socket

logger = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends READY=1, WATCHDOG=1, STATUS=..., STOPPING=1 when run by systemd."""

    def __init__(self, address: str | None = None) -> None:
        self._address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        if self._address and self._address.startswith("@"):
            self._address = "\0" + self._address[1:]

    @property
    def enabled(self) -> bool:
        """True when systemd asked for notifications."""
        return bool(self._address)

    def notify(self, *fields: str) -> bool:
        """Send `KEY=value` fields; False (logged once per call site) when sending failed."""
        if not self._address:
            return False
        message = "\n".join(fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, self._address)
        except OSError as exc:
            logger.warning("sd_notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        """Startup finished."""
        return self.notify("READY=1", f"STATUS={status}")

    def watchdog(self) -> bool:
        """Proof of life for WatchdogSec=."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Shutdown has begun."""
        return self.notify("STOPPING=1", "STATUS=stopping")


def watchdog_interval_s() -> float | None:
    """Half of systemd's WatchdogSec (from $WATCHDOG_USEC), or None when not requested."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit():
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process of the unit
    return int(usec) / 2e6
