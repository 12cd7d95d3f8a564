"""Would face-shape landmarks add to the expression CNN? Measured on validation.

Run from the repository root with the training environment::

    python -m models.training.face.landmark_study --model models/face_expression.tflite

The device already runs Face Mesh (`models/face_landmark.tflite`) for head pose, so its 468
points are free at run time. This fits a linear classifier on the points of the training
split's faces (centred, scaled by the eye distance, PCA to 120 dimensions, class-balanced
logistic regression), then scores it on the validation split alone and fused with the
released model: ``log p_cnn + weight * log p_landmarks``. The test set is not touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from models.training.face.export import classification_metrics, predict_tflite
from models.training.face.study_cli import study_args, train_and_validation

MESH_MODEL = Path("models/face_landmark.tflite")
FUSION_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
# FER2013 crops are tight; Face Mesh expects a region 1.5x the face: 12 px of border each side.
BORDER_PX = 12
# Outer eye corners in the Face Mesh topology: the scale of each face.
EYE_CORNERS = (33, 263)


def mesh_points(images: np.ndarray, model_path: Path = MESH_MODEL) -> np.ndarray:
    """Face Mesh on each 48x48 grey face: ``(N, 468, 3)`` points in the 192 px input frame."""
    interpreter = Interpreter(model_path=str(model_path), num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    points_index = next(
        o["index"] for o in interpreter.get_output_details() if int(np.prod(o["shape"])) == 1404
    )
    points = np.empty((len(images), 468, 3), np.float32)
    for k, image in enumerate(images):
        framed = cv2.copyMakeBorder(image, *(BORDER_PX,) * 4, cv2.BORDER_REPLICATE)
        rgb = cv2.cvtColor(cv2.resize(framed, (192, 192)), cv2.COLOR_GRAY2RGB)
        interpreter.set_tensor(input_index, (rgb.astype(np.float32) / 255.0)[None])
        interpreter.invoke()
        points[k] = interpreter.get_tensor(points_index).reshape(468, 3)
    return points


def shape_features(points: np.ndarray) -> np.ndarray:
    """Points centred on their mean and divided by the eye distance, flattened."""
    centred = points - points.mean(axis=1, keepdims=True)
    left, right = EYE_CORNERS
    eyes = np.linalg.norm(centred[:, right, :2] - centred[:, left, :2], axis=1)
    return (centred / np.maximum(eyes, 1e-6)[:, None, None]).reshape(len(points), -1)


def study(
    cnn_probs: np.ndarray, mesh_probs: np.ndarray, labels: np.ndarray
) -> dict[str, dict[str, float]]:
    """Accuracy and UAR of the landmarks alone and of each fusion weight (0 = the CNN alone)."""

    def scores(probs: np.ndarray) -> dict[str, float]:
        found = classification_metrics(labels, probs)
        return {"accuracy": round(found["accuracy"], 4), "uar": round(found["uar"], 4)}

    report = {"landmarks_alone": scores(mesh_probs)}
    for weight in FUSION_WEIGHTS:
        fused = np.log(cnn_probs + 1e-9) + weight * np.log(mesh_probs + 1e-9)
        report[f"fused_{weight:g}"] = scores(fused)
    return report


def main(argv: list[str] | None = None) -> None:
    args = study_args(__doc__, argv)
    train, val = train_and_validation(args)
    classifier = make_pipeline(
        StandardScaler(),
        PCA(120, random_state=0),
        LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced"),
    )
    classifier.fit(shape_features(mesh_points(train.images)), train.labels)
    mesh_probs = classifier.predict_proba(shape_features(mesh_points(val.images)))
    cnn_probs = predict_tflite(args.model.read_bytes(), val.images)
    print(json.dumps(study(cnn_probs, mesh_probs, val.labels), indent=1))


if __name__ == "__main__":
    main()
