"""FER2013 loading, on-disk caching and the stratified train/validation split."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

logger = logging.getLogger(__name__)

# Canonical output order of the model; downstream code maps probabilities by this order.
LABELS: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
)
# FER2013 folder name -> canonical label.
FER_TO_LABEL: dict[str, str] = {
    "angry": "angry",
    "disgust": "disgusted",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "surprise": "surprised",
}
IMAGE_SIZE = 48


@dataclass(frozen=True)
class Split:
    """Images of one split as uint8 ``(N, 48, 48)`` and canonical label indices ``(N,)``."""

    images: np.ndarray
    labels: np.ndarray


def data_root() -> Path:
    """Return the FER2013 folder, from ``MOODSENSE_DATA`` (default ``../shared/data``)."""
    return Path(os.environ.get("MOODSENSE_DATA", "../shared/data")) / "face" / "fer2013"


def cache_dir() -> Path:
    """Return the cache folder outside the repo, from ``MOODSENSE_CACHE`` (default ../cache)."""
    root = Path(os.environ.get("MOODSENSE_CACHE", "../cache/moodsense"))
    path = root / "face"
    path.mkdir(parents=True, exist_ok=True)
    return path


def list_files(split_dir: Path) -> list[tuple[Path, int]]:
    """List ``(path, label index)`` pairs of one split, sorted for a stable order."""
    pairs: list[tuple[Path, int]] = []
    for folder, label in sorted(FER_TO_LABEL.items()):
        index = LABELS.index(label)
        pairs.extend((path, index) for path in sorted((split_dir / folder).glob("*.png")))
    if not pairs:
        raise FileNotFoundError(f"no FER2013 images under {split_dir}")
    return pairs


def _read_gray(path: Path) -> np.ndarray:
    """Read one image as 48x48 uint8 grayscale, resizing defensively if needed."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise OSError(f"cannot decode {path}")
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        image = cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    return image


def _file_list_key(pairs: list[tuple[Path, int]]) -> str:
    """Hash the file names and labels so a changed data folder invalidates the cache."""
    digest = hashlib.sha256()
    for path, label in pairs:
        digest.update(f"{path.parent.name}/{path.name}:{label}\n".encode())
    return digest.hexdigest()[:16]


def load_split(name: str) -> Split:
    """Load ``train`` or ``test`` from the uint8 .npz cache, building it on first use."""
    pairs = list_files(data_root() / name)
    cache = cache_dir() / f"fer2013_{name}_{_file_list_key(pairs)}.npz"
    if cache.exists():
        with np.load(cache) as archive:
            return Split(images=archive["images"], labels=archive["labels"])
    logger.info("decoding %d %s images into %s", len(pairs), name, cache)
    images = np.stack([_read_gray(path) for path, _ in pairs])
    labels = np.array([label for _, label in pairs], dtype=np.int64)
    # Write then rename so an interrupted run never leaves a truncated cache behind.
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    np.savez(tmp, images=images, labels=labels)
    os.replace(tmp, cache)
    return Split(images=images, labels=labels)


# Every released face model was validated on this split of ``train/``; members must share it.
SPLIT_SEED = 1234


def split_seed(config: Mapping[str, Any]) -> int:
    """A run config's split seed; runs from before ``split_seed`` existed split with ``seed``."""
    return int(config["split_seed"] if "split_seed" in config else config["seed"])


def train_val_split(split: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """Split ``train/`` into stratified train and validation parts with a fixed seed."""
    indices = np.arange(len(split.labels))
    train_idx, val_idx = train_test_split(
        indices, test_size=val_fraction, stratify=split.labels, random_state=seed
    )
    train_idx, val_idx = np.sort(train_idx), np.sort(val_idx)
    return (
        Split(split.images[train_idx], split.labels[train_idx]),
        Split(split.images[val_idx], split.labels[val_idx]),
    )


def fold_ids(labels: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Each face's fold (0 .. n_folds - 1) in a stratified partition fixed by ``seed``.

    Out-of-fold teachers (``--hold-out-fold K/N``) and their student compute it on the same
    training part with the same seed, so every face is scored by the one teacher that never
    trained on it.
    """
    folds = np.empty(len(labels), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        folds[held] = fold
    return folds


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-class loss weights ``count**-power``, scaled so the mean sample weight is 1.

    ``power=1`` is full inverse frequency, ``0.5`` a softer compromise that lifts rare
    classes (disgust) without giving up much overall accuracy.
    """
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    weights = counts**-power
    weights /= (weights[labels]).mean()
    return weights.astype(np.float32)


def subset(split: Split, size: int, seed: int) -> Split:
    """Take a stratified random subset, used by the smoke run."""
    if size >= len(split.labels):
        return split
    keep, _ = train_test_split(
        np.arange(len(split.labels)), train_size=size, stratify=split.labels, random_state=seed
    )
    keep = np.sort(keep)
    return Split(split.images[keep], split.labels[keep])
