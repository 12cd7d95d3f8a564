"""Keep numba compilation out of the first event, and library caches in the state directory.

librosa compiles some helpers with numba on first use (about 16 s cold on this machine);
numba caches the machine code on disk, but under systemd's ProtectSystem=strict the package
directory is read-only, so the cache must live in the state directory. matplotlib (imported
by MediaPipe) writes a font cache under $HOME; it goes there too, so the only files the
service writes are its own state (docs/privacy.md). Call `use_state_caches` before those
libraries are first imported, then `warm_up` once at start.
"""

import logging
import os
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


_CACHES = {"NUMBA_CACHE_DIR": "numba", "MPLCONFIGDIR": "matplotlib"}


def use_state_caches(state_dir: Path) -> Path:
    """Point numba's and matplotlib's caches into `<state_dir>/cache/` unless already set."""
    root = state_dir / "cache"
    for variable, name in _CACHES.items():
        Path(os.environ.setdefault(variable, str(root / name))).mkdir(parents=True, exist_ok=True)
    return root


def warm_up() -> float:
    """Run the feature path once on silence; returns the seconds it took."""
    from edge.voice.features import SAMPLE_RATE, extract_windows

    started = time.monotonic()
    extract_windows(np.zeros(SAMPLE_RATE * 3, dtype=np.float32))
    elapsed = time.monotonic() - started
    logger.info("Voice features warmed up in %.1f s", elapsed)
    return elapsed
