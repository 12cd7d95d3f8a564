"""Keep numba compilation out of the first event.

librosa compiles some helpers with numba on first use (about 16 s cold on this machine);
numba caches the machine code on disk, but under systemd's ProtectSystem=strict the package
directory is read-only, so the cache must live in the state directory. Call
`use_numba_cache` before librosa is first imported, then `warm_up` once at start.
"""

import logging
import os
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def use_numba_cache(state_dir: Path) -> Path:
    """Point numba's cache at `<state_dir>/numba-cache` unless NUMBA_CACHE_DIR is set."""
    cache = Path(os.environ.setdefault("NUMBA_CACHE_DIR", str(state_dir / "numba-cache")))
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def warm_up() -> float:
    """Run the feature path once on silence; returns the seconds it took."""
    from edge.voice.features import SAMPLE_RATE, extract_windows

    started = time.monotonic()
    extract_windows(np.zeros(SAMPLE_RATE * 3, dtype=np.float32))
    elapsed = time.monotonic() - started
    logger.info("Voice features warmed up in %.1f s", elapsed)
    return elapsed
