"""Log-mel feature extraction shared by training and the on-device voice pipeline.

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

from functools import lru_cache

import librosa
import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 512
WIN_LENGTH = 400
HOP_LENGTH = 160
N_MELS = 64
FMIN = 50.0
FMAX = 8_000.0
TOP_DB = 80.0
# "scalar": subtract the window's scalar mean; "band": subtract each mel band's mean over the
# window (cepstral-mean-style, removes the speaker's / microphone's long-term spectral envelope).
NORM_MODE = "scalar"
WINDOW_FRAMES = 250
WINDOW_HOP_FRAMES = 125
WINDOW_SECONDS = WINDOW_FRAMES * HOP_LENGTH / SAMPLE_RATE

FEATURE_SPEC: dict[str, object] = {
    "sample_rate": SAMPLE_RATE,
    "n_fft": N_FFT,
    "win_length": WIN_LENGTH,
    "hop_length": HOP_LENGTH,
    "window": "hann",
    "center": True,
    "n_mels": N_MELS,
    "fmin": FMIN,
    "fmax": FMAX,
    "mel_norm": "slaney",
    "htk": False,
    "log": "10*log10(power_mel + 1e-10)",
    "window_frames": WINDOW_FRAMES,
    "window_hop_frames": WINDOW_HOP_FRAMES,
    "window_seconds": WINDOW_SECONDS,
    "normalisation": "per window: clamp to max-80 dB, subtract scalar mean, divide by scalar std",
    "padding": "short windows padded at the end with the normalised floor value",
    "layout": "(n_windows, 250 frames, 64 mels); model input (batch, 250, 64, 1) float32",
}


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    """Return the cached (N_MELS, N_FFT // 2 + 1) mel filterbank."""
    return librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX
    ).astype(np.float32)


def log_mel_db(audio: np.ndarray) -> np.ndarray:
    """Return the un-normalised log-mel spectrogram in dB, shape (frames, N_MELS), float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size < N_FFT:
        # librosa needs at least one full frame; pad very short inputs with silence.
        audio = np.pad(audio, (0, N_FFT - audio.size))
    spec = librosa.stft(
        audio, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH, center=True
    )
    power = np.abs(spec) ** 2
    mel = _mel_basis() @ power
    return (10.0 * np.log10(mel + 1e-10)).T.astype(np.float32)


def normalise_window(frames: np.ndarray) -> np.ndarray:
    """Normalise one window of dB log-mel frames (n <= WINDOW_FRAMES, N_MELS) to the model input.

    Returns (WINDOW_FRAMES, N_MELS) float32; see the module docstring for the exact rule.
    """
    frames = np.asarray(frames, dtype=np.float32)[:WINDOW_FRAMES]
    clamped = np.maximum(frames, frames.max() - TOP_DB)
    band = NORM_MODE == "band"
    mean = clamped.mean(axis=0, keepdims=True) if band else clamped.mean()
    std = (clamped - mean).std() + 1e-5
    normed = (clamped - mean) / std
    if normed.shape[0] < WINDOW_FRAMES:
        floor = np.minimum(
            (frames.max() - TOP_DB - mean) / std, normed.min(axis=0 if band else None)
        )
        pad = np.broadcast_to(floor, (WINDOW_FRAMES - normed.shape[0], N_MELS))
        normed = np.concatenate([normed, pad], axis=0)
    return normed.astype(np.float32)


def window_starts(n_frames: int) -> list[int]:
    """Start frames of the scoring windows for an utterance of ``n_frames`` frames."""
    if n_frames <= WINDOW_FRAMES:
        return [0]
    last = n_frames - WINDOW_FRAMES
    starts = list(range(0, last, WINDOW_HOP_FRAMES))
    # Align a final window with the end so the tail of the utterance is always scored.
    starts.append(last)
    return starts


def windows_from_log_mel(log_mel: np.ndarray) -> np.ndarray:
    """Split a dB log-mel spectrogram into normalised windows, shape (n, WINDOW_FRAMES, N_MELS)."""
    starts = window_starts(log_mel.shape[0])
    return np.stack([normalise_window(log_mel[s : s + WINDOW_FRAMES]) for s in starts])


def extract_windows(audio: np.ndarray) -> np.ndarray:
    """THE device feature function: 16 kHz mono float32 audio -> (n_windows, 250, 64) float32.

    Scoring an utterance = average the model's class probabilities over these windows.
    """
    return windows_from_log_mel(log_mel_db(audio))
