"""Log-mel features for training: the device's own function, re-exported from
`edge.voice.features` (one implementation, so training and the kiosk cannot drift; the exact
spec is that module's docstring), plus the per-band normalisation experiment
(``NORM_MODE = "band"``), which lost on validation.
"""

from __future__ import annotations

import numpy as np

from edge.voice import features as _device
from edge.voice.features import (
    FEATURE_SPEC,
    FMAX,
    FMIN,
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    TOP_DB,
    WIN_LENGTH,
    WINDOW_FRAMES,
    WINDOW_HOP_FRAMES,
    WINDOW_SECONDS,
    log_mel_db,
    window_starts,
)

__all__ = [
    "FEATURE_SPEC",
    "FMAX",
    "FMIN",
    "HOP_LENGTH",
    "NORM_MODE",
    "N_FFT",
    "N_MELS",
    "SAMPLE_RATE",
    "TOP_DB",
    "VIEWS",
    "WINDOW_FRAMES",
    "WINDOW_HOP_FRAMES",
    "WINDOW_SECONDS",
    "WIN_LENGTH",
    "extract_windows",
    "log_mel_db",
    "normalise_window",
    "window_starts",
    "windows_from_log_mel",
]

# "scalar" (shipped, the device's rule): subtract the window's scalar mean; "band": subtract
# each mel band's mean over the window (cepstral-mean-style), an experiment that lost.
NORM_MODE = "scalar"
# What a network's first layer sees, computed inside its graph from the device's window:
# "scalar" the window itself; "band" each mel band minus its mean over the window (the same
# envelope-free view as NORM_MODE "band", but as one member among plain ones, for variety).
VIEWS = ("scalar", "band")


def normalise_window(frames: np.ndarray) -> np.ndarray:
    """The device's normalisation, or the per-band experiment when NORM_MODE == "band"."""
    if NORM_MODE != "band":
        return _device.normalise_window(frames)
    frames = np.asarray(frames, dtype=np.float32)[:WINDOW_FRAMES]
    clamped = np.maximum(frames, frames.max() - TOP_DB)
    mean = clamped.mean(axis=0, keepdims=True)
    std = (clamped - mean).std() + 1e-5
    normed = (clamped - mean) / std
    if normed.shape[0] < WINDOW_FRAMES:
        floor = np.minimum((frames.max() - TOP_DB - mean) / std, normed.min(axis=0))
        pad = np.broadcast_to(floor, (WINDOW_FRAMES - normed.shape[0], N_MELS))
        normed = np.concatenate([normed, pad], axis=0)
    return normed.astype(np.float32)


def windows_from_log_mel(log_mel: np.ndarray) -> np.ndarray:
    """Split a dB log-mel spectrogram into normalised windows, shape (n, WINDOW_FRAMES, N_MELS)."""
    starts = window_starts(log_mel.shape[0])
    return np.stack([normalise_window(log_mel[s : s + WINDOW_FRAMES]) for s in starts])


def extract_windows(audio: np.ndarray) -> np.ndarray:
    """16 kHz mono float32 audio -> (n_windows, 250, 64) float32 (see edge.voice.features)."""
    return windows_from_log_mel(log_mel_db(audio))
