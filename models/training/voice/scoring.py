"""Utterance scoring the way the live pipeline does it: average window probabilities."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from models.training.voice.features import windows_from_log_mel

Predictor = Callable[[np.ndarray], np.ndarray]


def stack_windows(log_mels: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All scoring windows of several utterances, plus the utterance index of each window."""
    windows, owner = [], []
    for i, log_mel in enumerate(log_mels):
        w = windows_from_log_mel(np.asarray(log_mel, dtype=np.float32))
        windows.append(w)
        owner.extend([i] * len(w))
    return np.concatenate(windows)[..., None], np.asarray(owner)


def average_by_owner(window_probs: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean of the window probabilities of each utterance, shape (n, classes)."""
    sums = np.zeros((n, window_probs.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, window_probs)
    counts = np.bincount(owner, minlength=n)[:, None]
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def score_utterances(log_mels: Sequence[np.ndarray], predict: Predictor) -> np.ndarray:
    """Utterance-level class probabilities from dB log-mels and a window-batch predictor."""
    windows, owner = stack_windows(log_mels)
    return average_by_owner(predict(windows), owner, len(log_mels))
