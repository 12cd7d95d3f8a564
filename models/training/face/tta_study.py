"""Does averaging over shifted, scaled or turned copies of a face pay? Measured on validation.

Run from the repository root with the training environment::

    python -m models.training.face.tta_study --model models/face_expression.tflite

Scores the shipped ``.tflite`` (which already averages a face with its mirror image) on the
validation split of ``train/`` for each geometric copy alone and for averages over groups of
copies. The test set is not touched: this informs a design choice.
"""

from __future__ import annotations

import json

import cv2
import numpy as np

from models.training.face import data
from models.training.face.export import classification_metrics, predict_tflite
from models.training.face.study_cli import study_args, train_and_validation

CENTRE = (data.IMAGE_SIZE - 1) / 2
# name -> (dx px, dy px, scale, rotation degrees); ranges inside the training augmentation.
COPIES: dict[str, tuple[float, float, float, float]] = {
    "identity": (0, 0, 1.0, 0),
    "x+2": (2, 0, 1.0, 0),
    "x-2": (-2, 0, 1.0, 0),
    "y+2": (0, 2, 1.0, 0),
    "y-2": (0, -2, 1.0, 0),
    "zoom1.08": (0, 0, 1.08, 0),
    "zoom0.93": (0, 0, 0.93, 0),
    "turn+6": (0, 0, 1.0, 6),
    "turn-6": (0, 0, 1.0, -6),
}
GROUPS = {
    "shifts": ["identity", "x+2", "x-2", "y+2", "y-2"],
    "zooms": ["identity", "zoom1.08", "zoom0.93"],
    "turns": ["identity", "turn+6", "turn-6"],
    "identity+zoom1.08": ["identity", "zoom1.08"],
    "all": list(COPIES),
}


def transformed(images: np.ndarray, dx: float, dy: float, scale: float, angle: float) -> np.ndarray:
    """Every image moved, zoomed and turned about its centre; borders replicate the edge."""
    matrix = cv2.getRotationMatrix2D((CENTRE, CENTRE), angle, scale)
    matrix[:, 2] += np.array([dx, dy])
    size = (data.IMAGE_SIZE, data.IMAGE_SIZE)
    return np.stack(
        [cv2.warpAffine(i, matrix, size, borderMode=cv2.BORDER_REPLICATE) for i in images]
    )


def study(model_bytes: bytes, split: data.Split) -> dict[str, dict[str, float]]:
    """Accuracy and UAR per copy and per averaged group of copies."""
    probs = {
        name: predict_tflite(model_bytes, transformed(split.images, *copy))
        for name, copy in COPIES.items()
    }

    def scores(names: list[str]) -> dict[str, float]:
        found = classification_metrics(split.labels, np.mean([probs[n] for n in names], axis=0))
        return {
            "accuracy": round(found["accuracy"], 4),
            "uar": round(found["uar"], 4),
            "passes": 2 * len(names),
        }

    return {name: scores([name]) for name in COPIES} | {g: scores(n) for g, n in GROUPS.items()}


def main(argv: list[str] | None = None) -> None:
    args = study_args(__doc__, argv)
    _, val = train_and_validation(args)
    print(json.dumps(study(args.model.read_bytes(), val), indent=1))


if __name__ == "__main__":
    main()
