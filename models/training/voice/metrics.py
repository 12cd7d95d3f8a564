"""Test metrics per corpus, computed from utterance-level class probabilities (sklearn)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    recall_score,
)

from models.training.voice.data import (
    FOUR_CLASS,
    HIGH_AROUSAL,
    LABELS,
    TO_MODEL_LABEL,
    Clip,
    av_table,
)

RAVDESS_8: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
)


def _r(x: float) -> float:
    return round(float(x), 4)


def four_class(true_model: np.ndarray, probs: np.ndarray) -> dict[str, object]:
    """4-class (neutral incl. calm, happy, sad, angry): argmax restricted to those 4 outputs."""
    cols = [LABELS.index(name) for name in FOUR_CLASS]
    keep = np.isin(true_model, FOUR_CLASS)
    pred = np.asarray(FOUR_CLASS)[probs[keep][:, cols].argmax(axis=1)]
    true = true_model[keep]
    return {
        "uar": _r(balanced_accuracy_score(true, pred)),
        "accuracy": _r(accuracy_score(true, pred)),
        "labels": list(FOUR_CLASS),
        "confusion": confusion_matrix(true, pred, labels=list(FOUR_CLASS)).tolist(),
        "n": int(keep.sum()),
    }


def ravdess_eight_class(originals: np.ndarray, pred_model: np.ndarray) -> dict[str, object]:
    """8-class UAR over the original RAVDESS emotions; a calm clip is correct if predicted neutral.

    The model has no calm output (calm is trained as neutral), so recall of calm is the share of
    calm clips predicted neutral; the UAR is the mean of the 8 per-emotion recalls.
    """
    correct = (pred_model == originals) | ((originals == "calm") & (pred_model == "neutral"))
    recalls = {name: _r(float(correct[originals == name].mean())) for name in RAVDESS_8}
    return {"uar": _r(float(np.mean(list(recalls.values())))), "per_class_recall": recalls}


def arousal_accuracy(true_model: np.ndarray, probs: np.ndarray) -> float:
    """High/low arousal accuracy; predicted arousal = probs @ table (high if > 0)."""
    true_high = np.isin(true_model, list(HIGH_AROUSAL))
    pred_high = probs @ av_table()[:, 0] > 0
    return _r(np.mean(true_high == pred_high))


def corpus_report(originals: Sequence[str], probs: np.ndarray, corpus: str) -> dict[str, object]:
    """All metrics of one corpus; ``originals`` are the corpus' own emotion names."""
    names = np.asarray(originals)
    true_model = np.array([TO_MODEL_LABEL[o] for o in names])
    pred_model = np.asarray(LABELS)[probs.argmax(axis=1)]
    present = [name for name in LABELS if name in set(true_model)]
    recalls = recall_score(true_model, pred_model, labels=present, average=None, zero_division=0)
    report: dict[str, object] = {
        "n": len(names),
        "four_class": four_class(true_model, probs),
        "uar_model_labels": _r(np.mean(recalls)),
        "accuracy": _r(accuracy_score(true_model, pred_model)),
        "macro_f1": _r(f1_score(true_model, pred_model, labels=present, average="macro")),
        "per_class_recall": {name: _r(r) for name, r in zip(present, recalls, strict=True)},
        "confusion_labels": list(LABELS),
        "confusion": confusion_matrix(true_model, pred_model, labels=list(LABELS)).tolist(),
        "arousal_accuracy": arousal_accuracy(true_model, probs),
        "predicted_share": {name: _r(np.mean(pred_model == name)) for name in LABELS},
    }
    if corpus == "ravdess":
        report["eight_class"] = ravdess_eight_class(names, pred_model)
    return report


def reports_by_corpus(
    clips: list[Clip], ids: Sequence[int], probs: np.ndarray
) -> dict[str, dict[str, object]]:
    """``corpus_report`` for each corpus among the clips ``ids`` (rows of ``probs``)."""
    corpora = np.array([clips[i].corpus for i in ids])
    originals = np.array([clips[i].original for i in ids])
    speakers = np.array([clips[i].speaker for i in ids])
    out = {}
    for corpus in ("ravdess", "nemo"):
        sel = corpora == corpus
        if not np.any(sel):
            continue
        out[corpus] = corpus_report(originals[sel], probs[sel], corpus)
        # Per speaker: shows whether a failure is one speaker or the whole corpus.
        out[corpus]["per_speaker_uar"] = {
            str(spk): _r(
                balanced_accuracy_score(
                    [TO_MODEL_LABEL[o] for o in originals[speakers == spk]],
                    np.asarray(LABELS)[probs[speakers == spk].argmax(axis=1)],
                )
            )
            for spk in sorted(set(speakers[sel]))
        }
    return out
