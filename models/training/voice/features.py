"""Log-mel features for training: the device's own function, re-exported from
`edge.voice.features` (one implementation, so training and the kiosk cannot drift), plus the
per-band normalisation experiment (``NORM_MODE = "band"``), which lost on validation.

Exact spec (copy this into the device package's spec/manifest):

- Input: mono float32 audio in [-1, 1] at ``SAMPLE_RATE`` = 16 000 Hz.
- STFT: ``N_FFT`` = 512, Hann window of ``WIN_LENGTH`` = 400 samples (25 ms), hop
  ``HOP_LENGTH`` = 160 samples (10 ms), ``center=True`` with zero padding.
- Mel: ``N_MELS`` = 64 Slaney-normalised triangular filters, ``FMIN`` = 50 Hz to ``FMAX`` = 8000 Hz
  (HTK=False), applied to the power spectrogram.
- Log: ``10 * log10(mel + 1e-10)`` (dB), shape ``(frames, 64)`` (time first).
- Windows: ``WINDOW_FRAMES`` = 250 frames (2.5 s), hop ``WINDOW_HOP_FRAMES`` = 125 frames. An
  utterance shorter than one window gives one window; the last window is aligned to the end of
  the utterance so no audio is dropped.
- Per-window normalisation: clamp to ``max - TOP_DB`` (80 dB) of that window, then subtract the
  window's scalar mean and divide by its scalar standard deviation (+1e-5), both over the real
  frames only.  A scalar (not per-band) mean keeps the spectral tilt, which carries arousal, while
  making the features invariant to input gain.  Frames missing at the end of a short window are
  filled with the window's normalised floor value, min((max - 80 dB - mean) / std, min of the
  normalised frames), i.e. what silence looks like after clamping.  (``NORM_MODE = "band"``,
  per-band mean, was an experiment that lost on validation; the shipped model uses "scalar".)
- Output: float32 array ``(n_windows, 250, 64)``; the model input is ``(batch, 250, 64, 1)``.

Cost: one STFT + mel matrix product per utterance plus cheap per-window arithmetic; no pitch
tracking (pyin) in this path.
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
