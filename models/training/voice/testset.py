"""Test-speaker audio, clean and with reproducible additive noise at 10 dB SNR.

Noise condition: for each test clip the noise type cycles white, pink, brown, babble by clip
index; babble mixes 3-5 VALIDATION-speaker clips (neither train nor test speakers, and not the
training babble pool).  The noise is seeded by (seed, clip index), so every model and the
baseline see exactly the same noisy audio.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from models.training.voice import augment
from models.training.voice.data import Clip, load_audio

TEST_SNR_DB = 10.0
CONDITIONS: tuple[str, ...] = ("clean", "snr10")
NOISE_SEED = 2024


def val_babble_sources(clips: list[Clip], n: int = 40) -> list[np.ndarray]:
    """A fixed pool of validation-speaker clips for test babble."""
    val = [i for i, c in enumerate(clips) if c.split == "val"]
    chosen = np.random.default_rng(NOISE_SEED).choice(val, size=min(n, len(val)), replace=False)
    return [load_audio(clips[i].path) for i in sorted(chosen)]


def noisy(audio: np.ndarray, clip_id: int, sources: list[np.ndarray]) -> np.ndarray:
    """The 10 dB SNR version of one test clip."""
    rng = np.random.default_rng([NOISE_SEED, clip_id])
    kind = augment.NOISE_KINDS[clip_id % len(augment.NOISE_KINDS)]
    noise = augment.make_noise(kind, audio.size, rng, sources)
    return augment.add_noise(audio, noise, TEST_SNR_DB)


def iter_test_audio(
    clips: list[Clip], condition: str, sources: list[np.ndarray]
) -> Iterator[tuple[int, np.ndarray]]:
    """(clip index, audio) for every test clip under ``condition`` (clean or snr10)."""
    for i, clip in enumerate(clips):
        if clip.split != "test":
            continue
        audio = load_audio(clip.path)
        yield i, audio if condition == "clean" else noisy(audio, i, sources)
