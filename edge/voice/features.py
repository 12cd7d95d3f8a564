"""Log-mel feature extraction: the one function training and the device both use.

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
  filled with the window's normalised floor value (what silence looks like after clamping).
- Output: float32 array ``(n_windows, 250, 64)``; the model input is ``(batch, 250, 64, 1)``.

Cost: one STFT + mel matrix product, about 1 ms per second of audio on a desktop core; no pitch
tracking (pyin) in this path.

The STFT and the mel filterbank are written with numpy alone, step for step as librosa 0.11
computes them (``librosa.stft`` and ``librosa.filters.mel`` with the settings above): importing
librosa's filters and STFT pulls in scipy, numba and LLVM, about 190 MB of the device's 300 MB
memory budget. librosa stays the reference: ``tests/test_voice_features.py`` checks that these
features match librosa's on real speech.
"""

from functools import lru_cache

import numpy as np
import numpy.typing as npt

Float32 = npt.NDArray[np.float32]

SAMPLE_RATE = 16_000
N_FFT = 512
WIN_LENGTH = 400
HOP_LENGTH = 160
N_MELS = 64
FMIN = 50.0
FMAX = 8_000.0
TOP_DB = 80.0
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


# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_MEL_LINEAR_HZ = 200.0 / 3
_MEL_LOG_FROM_HZ = 1000.0
_MEL_LOG_FROM = _MEL_LOG_FROM_HZ / _MEL_LINEAR_HZ
_MEL_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney mel of frequencies in Hz (as ``librosa.hz_to_mel(htk=False)``)."""
    linear = hz / _MEL_LINEAR_HZ
    above = (
        _MEL_LOG_FROM + np.log(np.maximum(hz, _MEL_LOG_FROM_HZ) / _MEL_LOG_FROM_HZ) / _MEL_LOG_STEP
    )
    return np.where(hz >= _MEL_LOG_FROM_HZ, above, linear)


def mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Frequencies in Hz of Slaney mels (as ``librosa.mel_to_hz(htk=False)``)."""
    linear = mel * _MEL_LINEAR_HZ
    above = _MEL_LOG_FROM_HZ * np.exp(
        _MEL_LOG_STEP * (np.maximum(mel, _MEL_LOG_FROM) - _MEL_LOG_FROM)
    )
    return np.where(mel >= _MEL_LOG_FROM, above, linear)


@lru_cache(maxsize=1)
def _mel_basis() -> Float32:
    """The (N_MELS, N_FFT // 2 + 1) Slaney-normalised triangular filterbank, cached."""
    fft_hz = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    edges_mel = np.linspace(hz_to_mel(np.array(FMIN)), hz_to_mel(np.array(FMAX)), N_MELS + 2)
    edges_hz = mel_to_hz(edges_mel)
    widths_hz = np.diff(edges_hz)
    ramps = edges_hz[:, np.newaxis] - fft_hz[np.newaxis, :]
    rising = -ramps[:-2] / widths_hz[:-1, np.newaxis]
    falling = ramps[2:] / widths_hz[1:, np.newaxis]
    basis = np.maximum(0, np.minimum(rising, falling)).astype(np.float32)
    # Slaney normalisation: each filter has unit area, so bands of any width weigh the same.
    basis *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, np.newaxis]
    return basis


@lru_cache(maxsize=1)
def _fft_window() -> npt.NDArray[np.float64]:
    """Periodic Hann window of WIN_LENGTH samples, zero-padded at both sides to N_FFT."""
    # scipy.signal.get_window("hann", WIN_LENGTH, fftbins=True), the way scipy computes it.
    phase = np.linspace(-np.pi, np.pi, WIN_LENGTH + 1)[:-1]
    window = 0.5 + 0.5 * np.cos(phase)
    left = (N_FFT - WIN_LENGTH) // 2
    return np.pad(window, (left, N_FFT - WIN_LENGTH - left))


def power_spectrogram(samples: Float32) -> Float32:
    """|STFT|^2 with the spec's frames, shape (N_FFT // 2 + 1, frames), float32."""
    padded = np.pad(samples, N_FFT // 2)  # center=True, zero padding
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]
    spectrum = np.fft.rfft(frames * _fft_window(), axis=-1).astype(np.complex64)
    return np.asarray(np.abs(spectrum) ** 2, dtype=np.float32).T


def log_mel_db(audio: npt.ArrayLike) -> Float32:
    """Return the un-normalised log-mel spectrogram in dB, shape (frames, N_MELS), float32."""
    samples = np.asarray(audio, dtype=np.float32)
    if samples.size < N_FFT:
        # At least one full frame (as librosa needs); pad very short inputs with silence.
        samples = np.pad(samples, (0, N_FFT - samples.size))
    mel = _mel_basis() @ power_spectrogram(samples)
    return np.asarray((10.0 * np.log10(mel + 1e-10)).T, dtype=np.float32)


def normalise_window(frames: npt.ArrayLike) -> Float32:
    """Normalise one window of dB log-mel frames (n <= WINDOW_FRAMES, N_MELS) to the model input.

    Returns (WINDOW_FRAMES, N_MELS) float32; see the module docstring for the exact rule.
    """
    window = np.asarray(frames, dtype=np.float32)[:WINDOW_FRAMES]
    clamped = np.maximum(window, window.max() - TOP_DB)
    mean = clamped.mean()
    std = clamped.std() + 1e-5
    normed = (clamped - mean) / std
    if normed.shape[0] < WINDOW_FRAMES:
        floor = min(float((window.max() - TOP_DB - mean) / std), float(normed.min()))
        pad = np.full((WINDOW_FRAMES - normed.shape[0], N_MELS), floor, dtype=np.float32)
        normed = np.concatenate([normed, pad], axis=0)
    return np.asarray(normed, dtype=np.float32)


def window_starts(n_frames: int) -> list[int]:
    """Start frames of the scoring windows for an utterance of ``n_frames`` frames."""
    if n_frames <= WINDOW_FRAMES:
        return [0]
    last = n_frames - WINDOW_FRAMES
    starts = list(range(0, last, WINDOW_HOP_FRAMES))
    # Align a final window with the end so the tail of the utterance is always scored.
    starts.append(last)
    return starts


def windows_from_log_mel(log_mel: Float32) -> Float32:
    """Split a dB log-mel spectrogram into normalised windows, shape (n, WINDOW_FRAMES, N_MELS)."""
    starts = window_starts(log_mel.shape[0])
    return np.stack([normalise_window(log_mel[s : s + WINDOW_FRAMES]) for s in starts])


def extract_windows(audio: npt.ArrayLike) -> Float32:
    """THE device feature function: 16 kHz mono float32 audio -> (n_windows, 250, 64) float32.

    Scoring an utterance = average the model's class probabilities over these windows.
    """
    return windows_from_log_mel(log_mel_db(audio))
