"""Feature cache: clean log-mel for every clip and augmented variants for training clips.

Augmentation is computed once and stored as un-normalised dB log-mel (float16) outside the
repo; training crops random windows from it and normalises each window exactly like the device.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.training.voice import augment
from models.training.voice.data import Clip, load_audio
from models.training.voice.features import log_mel_db

LOG = logging.getLogger(__name__)
CACHE_VERSION = "v1"
BABBLE_POOL = 200


@dataclass
class FeatureSet:
    """Concatenated variable-length log-mels: item ``i`` is ``mels[offsets[i]:offsets[i+1]]``."""

    mels: np.ndarray
    offsets: np.ndarray
    clip_index: np.ndarray

    def item(self, i: int) -> np.ndarray:
        """The dB log-mel of item ``i`` as float32 (frames, mels)."""
        return self.mels[self.offsets[i] : self.offsets[i + 1]].astype(np.float32)

    def __len__(self) -> int:
        return int(self.clip_index.size)


def _pack(items: list[np.ndarray], clip_index: list[int]) -> FeatureSet:
    """Concatenate per-item log-mels into one float16 array with offsets."""
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([m.shape[0] for m in items])
    mels = np.concatenate(items).astype(np.float16)
    return FeatureSet(mels, offsets, np.asarray(clip_index, dtype=np.int64))


def _save(fs: FeatureSet, path: Path) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, mels=fs.mels, offsets=fs.offsets, clip_index=fs.clip_index)
    tmp.replace(path)  # atomic: a killed run never leaves a half-written cache


def load_set(path: Path) -> FeatureSet:
    """Load a cached ``FeatureSet``."""
    with np.load(path) as data:
        return FeatureSet(data["mels"], data["offsets"], data["clip_index"])


def babble_sources(clips: list[Clip], seed: int) -> list[np.ndarray]:
    """A fixed pool of TRAIN clips used to synthesise babble noise."""
    train = [i for i, c in enumerate(clips) if c.split == "train"]
    rng = np.random.default_rng([seed, 99])
    chosen = rng.choice(train, size=min(BABBLE_POOL, len(train)), replace=False)
    return [load_audio(clips[i].path) for i in sorted(chosen)]


def _variants(
    clip_id: int, audio: np.ndarray, n_aug: int, seed: int, sources: list[np.ndarray]
) -> list[np.ndarray]:
    """Log-mels of ``n_aug`` augmented copies; the RNG depends only on (seed, clip, copy)."""
    out = []
    for k in range(n_aug):
        rng = np.random.default_rng([seed, clip_id, k])
        out.append(log_mel_db(augment.random_chain(audio, rng, sources)))
    return out


_SOURCES: list[np.ndarray] = []


def _init_worker(sources: list[np.ndarray]) -> None:
    # Each worker receives the babble pool once, not once per clip.
    _SOURCES[:] = sources


def _clip_features(task: tuple[int, Clip, int, int]) -> tuple[int, np.ndarray, list[np.ndarray]]:
    """Clean log-mel and, for a training clip, its augmented copies (one worker's job)."""
    i, clip, n_aug, seed = task
    audio = load_audio(clip.path)
    variants = _variants(i, audio, n_aug, seed, _SOURCES) if clip.split == "train" else []
    return i, log_mel_db(audio), variants


def build_cache(
    clips: list[Clip], cache_dir: Path, n_aug: int, seed: int, workers: int | None = None
) -> None:
    """Compute ``clean.npz`` (all clips) and ``aug.npz`` (train clips x ``n_aug``) if missing.

    Clips are spread over ``workers`` processes (default: every core); the result does not
    depend on the number of workers because each clip's RNG is seeded by (seed, clip, copy).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    clean_path, aug_path = cache_dir / "clean.npz", cache_dir / "aug.npz"
    if clean_path.exists() and aug_path.exists():
        LOG.info("feature cache present in %s", cache_dir)
        return
    sources = babble_sources(clips, seed)
    clean, clean_idx, aug, aug_idx = [], [], [], []
    start = time.time()
    tasks = [(i, clip, n_aug, seed) for i, clip in enumerate(clips)]
    with multiprocessing.Pool(workers or os.cpu_count(), _init_worker, (sources,)) as pool:
        # imap keeps clip order, so the packed arrays are identical to a serial build.
        for i, mel, variants in pool.imap(_clip_features, tasks, chunksize=8):
            clean.append(mel)
            clean_idx.append(i)
            aug.extend(variants)
            aug_idx.extend([i] * len(variants))
            if i % 500 == 0:
                LOG.info("cache %d/%d clips (%.0f s)", i, len(clips), time.time() - start)
    _save(_pack(clean, clean_idx), clean_path)
    _save(_pack(aug, aug_idx), aug_path)
    LOG.info("cache written to %s in %.0f s", cache_dir, time.time() - start)
