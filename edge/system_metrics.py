"""Process and board metrics for health: read from /proc and /sys, absent where unavailable."""

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
_STATM = Path("/proc/self/statm")
# The Raspberry Pi firmware driver exposes the throttling word here (hex digits, no `0x`).
# Pi 4 and earlier: soc/soc:firmware; Pi 5: soc@107c000000/soc@107c000000:firmware.
_THROTTLED_GLOBS = ("devices/platform/soc*/soc*:firmware/get_throttled",)
_SYSFS = Path("/sys")
_VCGENCMD_TIMEOUT_S = 2.0

# Bits of `vcgencmd get_throttled` (Raspberry Pi documentation, "get_throttled").
THROTTLE_BITS: dict[str, int] = {
    "under_voltage_now": 0,
    "freq_capped_now": 1,
    "throttled_now": 2,
    "soft_temp_limit_now": 3,
    "under_voltage_occurred": 16,
    "freq_capped_occurred": 17,
    "throttled_occurred": 18,
    "soft_temp_limit_occurred": 19,
}


def cpu_temperature_c(zone: Path = _THERMAL_ZONE) -> float | None:
    """SoC temperature in degrees Celsius (Raspberry Pi: thermal_zone0), None if unknown."""
    try:
        return int(zone.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def rss_mb(statm: Path = _STATM) -> float | None:
    """Current resident set size of this process in MiB, None off Linux."""
    try:
        resident_pages = int(statm.read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def load_average_1m() -> float | None:
    """The system's 1-minute load average (runnable tasks), None where unsupported."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


class ProcessCpuMeter:
    """This process's CPU use in percent of one core, averaged over at least `window_s`.

    Callers (health every interval, Prometheus on every scrape) share one meter; the
    reference point moves only once a window has passed, so frequent scrapes do not turn
    the figure into noise.
    """

    def __init__(
        self,
        window_s: float = 5.0,
        cpu_s: Callable[[], float] = time.process_time,
        mono_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window_s, self._cpu_s, self._mono_s = window_s, cpu_s, mono_s
        self._lock = threading.Lock()
        self._ref = (mono_s(), cpu_s())
        self._percent: float | None = None

    def percent(self) -> float | None:
        """CPU percent of one core over the last completed window (None before the first)."""
        with self._lock:
            now, cpu = self._mono_s(), self._cpu_s()
            elapsed = now - self._ref[0]
            if elapsed >= self._window_s:
                self._percent = max(0.0, (cpu - self._ref[1]) / elapsed * 100.0)
                self._ref = (now, cpu)
            return self._percent


@dataclass(frozen=True, slots=True)
class Throttling:
    """The Raspberry Pi firmware's throttling word, decoded (see `THROTTLE_BITS`)."""

    raw: int
    """The word as read, for flags this table does not name."""

    def flag(self, name: str) -> bool:
        """Whether the named bit is set."""
        return bool(self.raw >> THROTTLE_BITS[name] & 1)

    def flags(self) -> dict[str, bool]:
        """Every named flag."""
        return {name: self.flag(name) for name in THROTTLE_BITS}


def parse_throttled(text: str) -> Throttling | None:
    """`throttled=0x50005` (vcgencmd) or `50005` (sysfs, hex): decoded, None if unreadable."""
    value = text.strip().rpartition("=")[2].strip()
    try:
        return Throttling(int(value, 16))
    except ValueError:
        return None


def _sysfs_throttled_file(sysfs: Path) -> Path | None:
    for pattern in _THROTTLED_GLOBS:
        for path in sorted(sysfs.glob(pattern)):
            return path
    return None


class ThrottleReader:
    """Reads the throttling state from sysfs, else `vcgencmd get_throttled`; None off a Pi.

    The source is found once: on anything but a Raspberry Pi neither exists and every read
    is a cheap None.
    """

    def __init__(self, sysfs: Path = _SYSFS, vcgencmd: Sequence[str] | None = None) -> None:
        self._file = _sysfs_throttled_file(sysfs)
        found = shutil.which("vcgencmd")
        self._command = list(vcgencmd) if vcgencmd is not None else None
        if self._command is None and found is not None:
            self._command = [found, "get_throttled"]
        self._warned = False

    @property
    def available(self) -> bool:
        """True where the board reports a throttling state."""
        return self._file is not None or self._command is not None

    def read(self) -> Throttling | None:
        """The current state, None when unknown (not a Pi, or the read failed)."""
        try:
            if self._file is not None:
                return parse_throttled(self._file.read_text())
            if self._command is not None:
                done = subprocess.run(  # noqa: S603 - fixed command, no shell, no user input
                    self._command,
                    capture_output=True,
                    text=True,
                    timeout=_VCGENCMD_TIMEOUT_S,
                    check=True,
                )
                return parse_throttled(done.stdout)
        except (OSError, subprocess.SubprocessError) as exc:
            if not self._warned:  # once: a hardened unit may deny the firmware mailbox
                logger.warning("Cannot read the throttling state: %s", exc)
                self._warned = True
        return None
