"""Soft training targets from a released model (offline knowledge distillation).

The teacher is a shipped ``.tflite`` file (e.g. the two-network ensemble of version 3), run once
over the training faces; its probabilities, softened by a temperature, are blended with the
one-hot labels. FER2013's labels are noisy (human agreement ~65 %), and an ensemble's soft
answers carry which expressions look alike, which one network of the same size cannot learn
from hard labels alone. Computing them once, on the unaugmented faces, costs no time per epoch;
the augmentations keep the expression, so the clean face's answer is a fair target.

Only the training part of the split is scored: the teacher's members were trained on the same
split (seed 1234), so validation faces stay unseen by both teacher and student.

A released model has seen every training face, so its answers on them are close to the labels
(version 3 agreed with 84.7 % of them) and teach little. Out-of-fold teachers
(``oof_teacher_probabilities``) fix that: N runs, each trained without one fold of the training
part (``--hold-out-fold K/N``), and each face is scored by the run that never saw it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import softmax

from models.training.face import data
from models.training.face.export import best_weights, flip_averaged, load_run, predict_tflite

logger = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    """Hex sha256 of the teacher file, recorded in the run config."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def teacher_probabilities(path: Path, images: np.ndarray) -> np.ndarray:
    """The teacher's probabilities for uint8 ``(N, 48, 48)`` faces, cached by file and images."""
    model_bytes = path.read_bytes()
    key = hashlib.sha256(model_bytes + images.tobytes()).hexdigest()[:16]
    cache = data.cache_dir() / f"teacher_{key}.npy"
    if cache.exists():
        return np.load(cache)
    logger.info("scoring %d faces with teacher %s", len(images), path)
    probs = predict_tflite(model_bytes, images).astype(np.float32)
    tmp = cache.with_name(cache.stem + ".tmp.npy")
    np.save(tmp, probs)
    os.replace(tmp, cache)
    return probs


def runs_sha256(folders: Sequence[Path]) -> str:
    """Hex sha256 over the teacher runs' best weights, in order, recorded in the run config."""
    digest = hashlib.sha256()
    for folder in folders:
        digest.update(best_weights(folder).read_bytes())
    return digest.hexdigest()


def oof_teacher_probabilities(
    folders: Sequence[Path], train: data.Split, split_seed: int
) -> np.ndarray:
    """Each training face scored (flip-averaged) by the teacher run that held its fold out.

    ``folders`` are the checkpoint folders of N runs made with ``--hold-out-fold K/N``, one per
    fold, on the same split seed; anything else is refused, since a teacher that trained on the
    face it scores is exactly what this is meant to avoid.
    """
    n_folds = len(folders)
    folds = data.fold_ids(train.labels, n_folds, split_seed)
    probs = np.full((len(train.labels), len(data.LABELS)), np.nan, dtype=np.float32)
    for folder in folders:
        model, state = load_run(folder)
        config = state["config"]
        fold = int(config.get("hold_out_fold", -1))
        if config.get("n_folds") != n_folds or data.split_seed(config) != split_seed:
            raise SystemExit(
                f"{folder.name}: trained with hold-out fold {fold} of {config.get('n_folds')} "
                f"on split seed {data.split_seed(config)}; need one of {n_folds} on {split_seed}"
            )
        held = folds == fold
        if not np.isnan(probs[held]).all():
            raise SystemExit(f"{folder.name}: fold {fold} already has a teacher")
        logger.info(
            "teacher %s scores fold %d/%d (%d faces)", folder.name, fold, n_folds, held.sum()
        )
        probs[held] = flip_averaged(model, train.images[held])
    if np.isnan(probs).any():
        raise SystemExit("some folds have no teacher")
    return probs


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)``: the same ranking, flatter for ``T > 1``."""
    logits = np.log(np.clip(probs, 1e-7, 1.0)) / temperature
    return softmax(logits, axis=1).astype(np.float32)


def blended_targets(
    one_hot: np.ndarray, teacher: np.ndarray, weight: float, temperature: float
) -> np.ndarray:
    """``(1 - weight) * one_hot + weight * soften(teacher, T)``; rows still sum to 1."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"distillation weight must be in [0, 1], got {weight}")
    return ((1.0 - weight) * one_hot + weight * soften(teacher, temperature)).astype(np.float32)
