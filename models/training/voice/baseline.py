"""Baseline: utterance functionals (MFCC, log-mel statistics, yin pitch) + logistic regression.

Trained on the clean clips of the same training speakers as the CNN; C is chosen on the
validation speakers; evaluated on the same clean and 10 dB SNR test audio.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import librosa
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from models.training.voice import testset
from models.training.voice.data import LABELS, Clip, load_audio
from models.training.voice.features import HOP_LENGTH, N_FFT, SAMPLE_RATE, log_mel_db
from models.training.voice.metrics import reports_by_corpus

LOG = logging.getLogger(__name__)
C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0)


def _stats(x: np.ndarray) -> np.ndarray:
    """Mean, std, 10th and 90th percentile over time of (frames, dims) features."""
    return np.concatenate([x.mean(0), x.std(0), *np.percentile(x, [10, 90], axis=0)])


def pitch_functionals(audio: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Log-f0 median, spread and range over voiced frames (librosa.yin; baseline only)."""
    f0 = librosa.yin(
        audio, fmin=65.0, fmax=500.0, sr=SAMPLE_RATE, frame_length=1024, hop_length=HOP_LENGTH
    )
    n = min(f0.size, voiced.size)
    f0v = np.log(f0[:n][voiced[:n]]) if voiced[:n].any() else np.log(f0[:n])
    return np.array([np.median(f0v), f0v.std(), *np.percentile(f0v, [10, 90]), voiced.mean()])


def functionals(audio: np.ndarray) -> np.ndarray:
    """One fixed-length vector per utterance."""
    log_mel = log_mel_db(audio)  # (frames, 64) dB
    rel = log_mel - log_mel.max()  # gain-invariant
    mfcc = librosa.feature.mfcc(S=rel.T, n_mfcc=20).T
    delta = librosa.feature.delta(mfcc.T).T
    energy = librosa.power_to_db(np.sum(10.0 ** (log_mel / 10.0), axis=1)) - rel.max()
    energy = energy - energy.max()
    voiced = energy > -30.0
    zcr = librosa.feature.zero_crossing_rate(audio, frame_length=N_FFT, hop_length=HOP_LENGTH)
    parts = [_stats(mfcc), _stats(delta), _stats(rel), _stats(energy[:, None]), _stats(zcr.T)]
    return np.concatenate([*parts, pitch_functionals(audio, voiced)]).astype(np.float32)


def clean_features(clips: list[Clip], cache: Path) -> np.ndarray:
    """Functionals of every clip (clean), cached."""
    if cache.exists():
        return np.load(cache)
    feats = np.stack([functionals(load_audio(c.path)) for c in clips])
    np.save(cache, feats)
    return feats


def noisy_test_features(clips: list[Clip], cache: Path) -> dict[int, np.ndarray]:
    """Functionals of the 10 dB SNR test audio, keyed by clip index, cached."""
    if not cache.exists():
        sources = testset.val_babble_sources(clips)
        rows = dict(testset.iter_test_audio(clips, "snr10", sources))
        ids = np.array(sorted(rows))
        np.savez(cache, ids=ids, feats=np.stack([functionals(rows[i]) for i in ids]))
    with np.load(cache) as data:
        return dict(zip(data["ids"].tolist(), data["feats"], strict=True))


def fit(feats: np.ndarray, clips: list[Clip], seed: int) -> tuple[Pipeline, float]:
    """Scaler + balanced logistic regression; C selected by mean validation UAR per corpus."""
    split = np.array([c.split for c in clips])
    y = np.array([c.label_index for c in clips])
    corpus = np.array([c.corpus for c in clips])
    tr, va = split == "train", split == "val"
    best: tuple[float, Pipeline | None, float] = (-1.0, None, 0.0)
    for c in C_GRID:
        clf = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed),
        )
        clf.fit(feats[tr], y[tr])
        pred = clf.predict(feats[va])
        score = np.mean(
            [
                balanced_accuracy_score(y[va & (corpus == k)], pred[corpus[va] == k])
                for k in ("ravdess", "nemo")
            ]
        )
        LOG.info("baseline C=%s val UAR %.3f", c, score)
        if score > best[0]:
            best = (float(score), clf, c)
    if best[1] is None or list(best[1].classes_) != list(range(len(LABELS))):
        raise ValueError("every label must occur in the training speakers")
    return best[1], best[0]


def evaluate_baseline(clips: list[Clip], cache_dir: Path, seed: int) -> dict[str, object]:
    """Train the baseline and report test metrics, clean and 10 dB SNR, per corpus."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    result_path = cache_dir / f"result_seed{seed}.json"
    if result_path.exists():  # deterministic given features and seed; fitting takes minutes
        return json.loads(result_path.read_text())
    feats = clean_features(clips, cache_dir / "baseline_clean.npy")
    noisy = noisy_test_features(clips, cache_dir / "baseline_snr10.npz")
    clf, val_score = fit(feats, clips, seed)
    out: dict[str, object] = {"val_uar_mean": round(val_score, 4), "C": clf[-1].C}
    test_ids = [i for i, c in enumerate(clips) if c.split == "test"]
    for condition in testset.CONDITIONS:
        x = np.stack([feats[i] if condition == "clean" else noisy[i] for i in test_ids])
        out[condition] = reports_by_corpus(clips, test_ids, clf.predict_proba(x))
    result_path.write_text(json.dumps(out))
    return out
