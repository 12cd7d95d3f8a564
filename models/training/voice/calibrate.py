"""Per-class logit offsets fitted on the validation speakers, against "always sad" voices.

A voice unlike the training speakers tends to land on one class: on the nEMO test speakers
the first models gave "sad" 41 % of their answers. Adding one offset per class to the logits
(the same as adding it to the output layer's bias) moves the decision boundaries without
retraining. The offsets are fitted on the validation speakers, who were never trained on,
by class-balanced log-loss, and adopted only if they also help a validation speaker they were
not fitted on (leave one speaker out). The test speakers play no part.

Run from the repository root with the training environment::

    python -m models.training.voice.calibrate --model models/voice_emotion.tflite

It prints the decision as JSON; an adopted set of offsets would be added to the output
layer's bias before export.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import softmax
from sklearn.metrics import balanced_accuracy_score

from models.training.voice.scoring import Predictor, average_by_owner, stack_windows

# Ridge on the offsets (in nats): keeps them small when validation says little.
L2 = 0.05


@dataclass(frozen=True)
class WindowLogProbs:
    """Log-probabilities of every scoring window of ``n`` utterances, and each window's owner."""

    log_probs: np.ndarray
    owner: np.ndarray
    n: int

    @classmethod
    def predict(cls, log_mels: Sequence[np.ndarray], predict: Predictor) -> WindowLogProbs:
        """Score every window of the utterances' dB log-mels with ``predict``."""
        windows, owner = stack_windows(log_mels)
        log_probs = np.log(np.clip(predict(windows), 1e-7, 1.0)).astype(np.float64)
        return cls(log_probs, owner, len(log_mels))

    def utterance_probs(self, offsets: np.ndarray) -> np.ndarray:
        """Utterance probabilities after the offsets (mean of shifted window softmaxes)."""
        window_probs = softmax(self.log_probs + offsets, axis=1)
        return average_by_owner(window_probs, self.owner, self.n)

    def subset(self, keep: np.ndarray) -> WindowLogProbs:
        """The windows of the utterances where ``keep`` is true, renumbered."""
        mask = keep[self.owner]
        renumbered = (np.cumsum(keep) - 1)[self.owner[mask]]
        return WindowLogProbs(self.log_probs[mask], renumbered, int(keep.sum()))


def fit_offsets(scores: WindowLogProbs, labels: np.ndarray) -> np.ndarray:
    """Offsets minimising class-balanced log-loss of the utterance probabilities (+ ridge)."""
    classes = scores.log_probs.shape[1]
    counts = np.bincount(labels, minlength=classes)
    weights = 1.0 / np.maximum(counts[labels], 1)
    weights /= weights.sum()

    def loss(offsets: np.ndarray) -> float:
        probs = scores.utterance_probs(offsets)[np.arange(labels.size), labels]
        return float(-(weights * np.log(np.maximum(probs, 1e-7))).sum() + L2 * offsets @ offsets)

    found = minimize(loss, np.zeros(classes), method="L-BFGS-B")
    # Only differences between offsets matter; centre them for a readable record.
    return found.x - found.x.mean()


def _uar(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(balanced_accuracy_score(labels, probs.argmax(axis=1)))


def leave_one_speaker_out(
    scores: WindowLogProbs, labels: np.ndarray, speakers: np.ndarray
) -> dict[str, dict[str, float]]:
    """UAR of each validation speaker without and with offsets fitted on the others."""
    out = {}
    for speaker in sorted(set(speakers)):
        held_out = speakers == speaker
        offsets = fit_offsets(scores.subset(~held_out), labels[~held_out])
        target = scores.subset(held_out)
        out[speaker] = {
            "uar_without": round(
                _uar(target.utterance_probs(np.zeros_like(offsets)), labels[held_out]), 4
            ),
            "uar_with": round(_uar(target.utterance_probs(offsets), labels[held_out]), 4),
        }
    return out


def decide(
    scores: WindowLogProbs, labels: np.ndarray, speakers: np.ndarray, labels_order: Sequence[str]
) -> dict[str, object]:
    """Fit on all validation speakers; adopt if held-out speakers gain on average."""
    loso = leave_one_speaker_out(scores, labels, speakers)
    gain = float(np.mean([s["uar_with"] - s["uar_without"] for s in loso.values()]))
    offsets = fit_offsets(scores, labels)
    return {
        "method": "per-class logit offsets, class-balanced log-loss on the validation speakers, "
        f"ridge {L2}; adopted if the mean leave-one-speaker-out UAR gain is > 0",
        "leave_one_speaker_out": loso,
        "mean_gain": round(gain, 4),
        "adopted": gain > 0,
        "offsets": {
            name: round(float(v), 4) for name, v in zip(labels_order, offsets, strict=True)
        },
    }


def main(argv: list[str] | None = None) -> None:
    from models.training.voice.data import LABELS, all_clips, load_audio
    from models.training.voice.evaluate import TFLiteScorer
    from models.training.voice.features import log_mel_db

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/voice_emotion.tflite"))
    args = parser.parse_args(argv)
    val = [c for c in all_clips() if c.split == "val"]
    scores = WindowLogProbs.predict(
        [log_mel_db(load_audio(c.path)) for c in val], TFLiteScorer(args.model)
    )
    labels = np.array([c.label_index for c in val])
    speakers = np.array([c.speaker for c in val])
    print(json.dumps(decide(scores, labels, speakers, LABELS), indent=1))


if __name__ == "__main__":
    main()
