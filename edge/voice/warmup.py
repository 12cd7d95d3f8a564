"""First-call costs out of the first event, and library caches in the state directory.

The device's voice features are plain numpy (edge/voice/features.py), so nothing is compiled
at run time any more (librosa's numba helpers used to take ~16 s cold). `warm_up` still runs
the feature path once at start so the first customer's window pays no first-call costs.
matplotlib (imported by the optional MediaPipe detector backend) writes a font cache under
$HOME; under systemd's ProtectSystem=strict that must be the state directory, so the only files
the service writes are its own state (docs/privacy.md). Call `use_state_caches` before such
libraries are first imported.
"""

import logging
import os
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


_CACHES = {"MPLCONFIGDIR": "matplotlib"}


def use_state_caches(state_dir: Path) -> Path:
    """Point matplotlib's cache into `<state_dir>/cache/` unless already set."""
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
