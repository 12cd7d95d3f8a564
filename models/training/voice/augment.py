"""Waveform augmentation for robustness to kiosk microphones, rooms and noise.

Only generated noise is used (no external noise data exists): white, pink and brown noise, and
babble made by mixing a few other TRAIN clips.  Every function takes an explicit
``numpy.random.Generator`` so the cached variants are reproducible from the seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import signal

from models.training.voice.features import SAMPLE_RATE

NOISE_KINDS: tuple[str, ...] = ("white", "pink", "brown", "babble")


def _coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power spectrum ~ 1 / f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 1 else 1.0
    spectrum /= freqs ** (exponent / 2.0)
    noise = np.fft.irfft(spectrum, n)
    return (noise / (np.std(noise) + 1e-12)).astype(np.float32)


def babble(n: int, sources: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Mix 3-5 random ``sources`` (other training clips) into an ``n``-sample babble track."""
    out = np.zeros(n, dtype=np.float32)
    for idx in rng.choice(len(sources), size=int(rng.integers(3, 6)), replace=True):
        src = np.resize(sources[idx], n)  # np.resize tiles short sources
        out += np.roll(src, int(rng.integers(0, n))) / (np.std(src) + 1e-12)
    return out / (np.std(out) + 1e-12)


def make_noise(
    kind: str, n: int, rng: np.random.Generator, sources: Sequence[np.ndarray] = ()
) -> np.ndarray:
    """Unit-variance noise of one of ``NOISE_KINDS``."""
    if kind == "babble":
        if not sources:
            raise ValueError("babble needs source clips")
        return babble(n, sources, rng)
    exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
    return _coloured_noise(n, exponent, rng)


def add_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` scaled so that speech-to-noise power ratio is ``snr_db``."""
    speech_power = float(np.mean(audio**2)) + 1e-12
    noise_power = float(np.mean(noise**2)) + 1e-12
    scale = np.sqrt(speech_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return (audio + scale * noise).astype(np.float32)


def reverberate(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic exponentially decaying impulse response (RT60 0.2-0.9 s)."""
    rt60 = rng.uniform(0.2, 0.9)
    length = int(rt60 * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    # 60 dB decay over rt60 seconds: amplitude envelope exp(-6.9 t / rt60).
    ir = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0 / rng.uniform(0.3, 1.0)  # direct path; larger = drier room
    ir /= np.sqrt(np.sum(ir**2))
    wet = signal.fftconvolve(audio, ir)[: audio.size]
    return (wet * (np.std(audio) / (np.std(wet) + 1e-12))).astype(np.float32)


def _shelf_sos(freq: float, gain_db: float, kind: str) -> np.ndarray:
    """Second-order shelving filter (RBJ cookbook, S=1) as SOS."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * freq / SAMPLE_RATE
    alpha = np.sin(w0) / 2 * np.sqrt(2.0)
    cos, sq = np.cos(w0), 2 * np.sqrt(a) * alpha
    sign = 1.0 if kind == "low" else -1.0
    b = [
        a * ((a + 1) - sign * (a - 1) * cos + sq),
        sign * 2 * a * ((a - 1) - sign * (a + 1) * cos),
        a * ((a + 1) - sign * (a - 1) * cos - sq),
    ]
    den = [(a + 1) + sign * (a - 1) * cos + sq, -sign * 2 * ((a - 1) + sign * (a + 1) * cos)]
    den.append((a + 1) + sign * (a - 1) * cos - sq)
    return np.concatenate([np.array(b) / den[0], np.array(den) / den[0]])[None, :]


def microphone_eq(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random microphone colouring: telephone band-pass (300-3400 Hz) or random shelves."""
    if rng.random() < 0.3:
        low, high = rng.uniform(200, 400), rng.uniform(3000, 4000)
        sos = signal.butter(4, [low, high], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    else:
        sos = np.concatenate(
            [
                _shelf_sos(rng.uniform(100, 400), rng.uniform(-12, 6), "low"),
                _shelf_sos(rng.uniform(2000, 6000), rng.uniform(-12, 6), "high"),
            ]
        )
    return signal.sosfilt(sos, audio).astype(np.float32)


def speed_perturb(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Change speed (tempo and pitch together) by a factor in 0.9-1.1 via polyphase resampling."""
    factor = rng.choice([0.9, 0.95, 1.05, 1.1])
    up, down = 20, round(20 * factor)
    return signal.resample_poly(audio, up, down).astype(np.float32)


def random_chain(
    audio: np.ndarray, rng: np.random.Generator, babble_sources: Sequence[np.ndarray]
) -> np.ndarray:
    """One random augmentation: speed, reverb, EQ, noise at 0-20 dB SNR and random gain."""
    out = audio
    if rng.random() < 0.5:
        out = speed_perturb(out, rng)
    if rng.random() < 0.5:
        out = reverberate(out, rng)
    if rng.random() < 0.5:
        out = microphone_eq(out, rng)
    if rng.random() < 0.8:
        kind = NOISE_KINDS[int(rng.integers(len(NOISE_KINDS)))]
        noise = make_noise(kind, out.size, rng, babble_sources)
        out = add_noise(out, noise, rng.uniform(0.0, 20.0))
    gain = 10.0 ** (rng.uniform(-20.0, 3.0) / 20.0)
    return np.clip(out * gain, -1.0, 1.0).astype(np.float32)
