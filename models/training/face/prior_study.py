"""Would adding back the class prior pay? Measured on validation.

Run from the repository root with the training environment::

    python -m models.training.face.prior_study --model models/face_expression.tflite

Training weights each class by ``count ** -0.5``, which moves predictions away from the common
classes: good for recall of the rare ones, not for plain accuracy. This scores the shipped
``.tflite`` on the validation split of ``train/`` with ``alpha * log(prior)`` added to the log
probabilities (logit adjustment), for a range of ``alpha``. The test set is not touched.
"""

from __future__ import annotations

import json

import numpy as np
from scipy.special import softmax

from models.training.face import data
from models.training.face.export import classification_metrics, predict_tflite
from models.training.face.study_cli import study_args, train_and_validation

ALPHAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def adjusted(probs: np.ndarray, prior: np.ndarray, alpha: float) -> np.ndarray:
    """Probabilities re-normalised after adding ``alpha * log(prior)`` to their logs."""
    return softmax(np.log(probs + 1e-9) + alpha * np.log(prior), axis=1)


def study(probs: np.ndarray, labels: np.ndarray, prior: np.ndarray) -> dict[str, dict[str, object]]:
    """Accuracy, UAR and share of predictions per class for each alpha."""
    report: dict[str, dict[str, object]] = {}
    for alpha in ALPHAS:
        moved = adjusted(probs, prior, alpha)
        found = classification_metrics(labels, moved)
        share = np.bincount(moved.argmax(axis=1), minlength=len(prior)) / len(labels)
        report[f"{alpha:g}"] = {
            "accuracy": round(found["accuracy"], 4),
            "uar": round(found["uar"], 4),
            "predicted_share": dict(zip(data.LABELS, np.round(share, 3).tolist(), strict=True)),
        }
    return report


def main(argv: list[str] | None = None) -> None:
    args = study_args(__doc__, argv)
    train, val = train_and_validation(args)
    prior = np.bincount(train.labels, minlength=len(data.LABELS)) / len(train.labels)
    probs = predict_tflite(args.model.read_bytes(), val.images)
    print(json.dumps(study(probs, val.labels, prior), indent=1))


if __name__ == "__main__":
    main()
