"""`moodsense eval face`: score the expression model on labelled images.

Images may be whole frames or tight face crops of any size. The detector runs first (small
crops get a border so BlazeFace sees context); when it finds no face in a small image, the
whole image is scored as the crop. Both cases are counted, as are big images without a face.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.config.camera import FaceConfig
from edge.evaluation.manifest import LabelledItem
from edge.face.detector import FaceDetector
from edge.face.expression import FaceExpressionModel
from edge.inference.registry import ModelRegistry, ModelSpec
from edge.inference.runtime import TfliteModel
from edge.types import ImageArray, VideoFrame

SMALL_IMAGE_PX = 160
"""Images up to this size (longer side) are treated as tight crops."""


@dataclass(slots=True)
class FaceEvalCounts:
    """How each image was scored or why it was not."""

    detected: int = 0
    whole_image: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def _with_context(gray_or_bgr: ImageArray) -> ImageArray:
    """A tight crop with a neutral border (and upscaled) so the detector sees a whole face."""
    image = gray_or_bgr if gray_or_bgr.ndim == 3 else cv2.cvtColor(gray_or_bgr, cv2.COLOR_GRAY2BGR)
    scale = max(1, 192 // max(image.shape[:2]))
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    border = image.shape[0] // 2
    padded = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)
    return np.asarray(padded, np.uint8)


def whole_image_crop(image: ImageArray, size: int) -> ImageArray:
    """The whole (already tight) image as the model's gray input crop."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    interpolation = cv2.INTER_AREA if min(gray.shape[:2]) >= size else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(gray, (size, size), interpolation=interpolation), np.uint8)


def predict_image(
    path: Path,
    detector: FaceDetector,
    model: FaceExpressionModel,
    counts: FaceEvalCounts,
) -> dict[str, float] | None:
    """Probabilities for the (largest) face in the image at `path`, or None if skipped."""
    raw = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if raw is None:
        counts.skipped["unreadable"] += 1
        return None
    image: ImageArray = np.asarray(raw, np.uint8)
    small = max(image.shape[:2]) <= SMALL_IMAGE_PX
    frame = VideoFrame(_with_context(image) if small else image, ts_mono_ns=0, index=0)
    boxes = detector.process(frame)
    if boxes:
        counts.detected += 1
        largest = max(boxes, key=lambda b: b.width * b.height)
        return model.process(frame, largest).probabilities
    if not small:
        counts.skipped["no_face"] += 1
        return None
    counts.whole_image += 1
    return model.score_crop(whole_image_crop(image, model.input_size)).probabilities


def predictions(
    items: list[LabelledItem],
    detector: FaceDetector,
    model: FaceExpressionModel,
    allowed: tuple[str, ...],
) -> tuple[list[str], list[str], FaceEvalCounts]:
    """(truth, predicted, counts): argmax restricted to `allowed` labels."""
    counts = FaceEvalCounts()
    truth, predicted = [], []
    for item in items:
        probabilities = predict_image(item.path, detector, model, counts)
        if probabilities is None:
            continue
        truth.append(item.label)
        predicted.append(max(allowed, key=lambda label: probabilities.get(label, 0.0)))
    return truth, predicted, counts


def run_face_eval(
    registry: ModelRegistry,
    spec: ModelSpec,
    model: TfliteModel,
    items: list[LabelledItem],
    allowed: tuple[str, ...],
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Evaluate with the verified detector; extra counts for the JSON report."""
    detector = FaceDetector(FaceConfig(), registry.verify("face_detection").path)
    try:
        truth, predicted, counts = predictions(
            items, detector, FaceExpressionModel(spec, model), allowed
        )
    finally:
        detector.close()
    extra: dict[str, Any] = {"skipped": counts.skipped}
    extra |= {"faces_detected": counts.detected, "scored_whole_image": counts.whole_image}
    return truth, predicted, extra
