"""Process and board metrics for health: read from /proc and /sys, absent where unavailable."""

import os
from pathlib import Path

_THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
_STATM = Path("/proc/self/statm")


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
