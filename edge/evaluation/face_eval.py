"""`moodsense eval face`: score the expression model on labelled images.

Images may be whole frames or tight face crops of any size. The detector runs first (small
crops get a border so BlazeFace sees context). A small image is scored whole when the detector
finds no face in it, or when the face it finds spans most of the image (the image is already a
tight face crop, see `TIGHT_CROP_MIN_COVERAGE`); otherwise the detector's box is cropped as on
the device, levelled with the eyes by the Face Mesh landmarks' roll. Each case is counted, as
are big images without a face.
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
from edge.face.landmarks import FaceLandmarker
from edge.inference.registry import ModelRegistry, ModelSpec
from edge.inference.runtime import TfliteModel
from edge.types import FaceBox, ImageArray, VideoFrame

SMALL_IMAGE_PX = 160
"""Images up to this size (longer side) may be tight crops."""
TIGHT_CROP_MIN_COVERAGE = 0.5
"""A small image whose detected face box spans at least this share of the image's longer side
is already a tight face crop and is scored whole. Re-cropping it to the BlazeFace box would
frame it differently from the crops the models were trained on: on 1,500 FER2013 *train*
images the box spans 0.63-1.05 of the image side (5th-95th percentile, median 0.85) and sits
lower (centre at 58 % of the height), cutting off the forehead. 0.5 keeps faces that fill the
image, while a small frame with a small face in it is still cropped to the face."""


_CONTEXT_PX = 192
"""Small images are upscaled by a whole factor towards this size before detection."""


@dataclass(slots=True)
class FaceEvalCounts:
    """How each image was scored or why it was not."""

    detected: int = 0
    """Scored on the detector's box."""
    tight_crop: int = 0
    """Face detected, but the image is already a tight crop of it: scored whole."""
    whole_image: int = 0
    """Small image in which no face was found: scored whole."""
    skipped: Counter[str] = field(default_factory=Counter)


def _with_context(gray_or_bgr: ImageArray) -> ImageArray:
    """A tight crop with a neutral border (and upscaled) so the detector sees a whole face."""
    scale = _context_scale(gray_or_bgr)
    image = gray_or_bgr if gray_or_bgr.ndim == 3 else cv2.cvtColor(gray_or_bgr, cv2.COLOR_GRAY2BGR)
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
    landmarker: FaceLandmarker | None = None,
) -> dict[str, float] | None:
    """Probabilities for the (largest) face in the image at `path`, or None if skipped.

    With a `landmarker`, a face cut out of a frame is levelled by its roll as on the device.
    """
    raw = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if raw is None:
        counts.skipped["unreadable"] += 1
        return None
    image: ImageArray = np.asarray(raw, np.uint8)
    small = max(image.shape[:2]) <= SMALL_IMAGE_PX
    frame = VideoFrame(_with_context(image) if small else image, ts_mono_ns=0, index=0)
    boxes = detector.process(frame)
    largest = max(boxes, key=lambda b: b.width * b.height) if boxes else None
    if largest is not None and not (small and _is_tight_crop(image, largest)):
        counts.detected += 1
        geometry = landmarker.process(frame, largest) if landmarker else None
        roll_deg = geometry.roll_deg if geometry else 0.0
        return model.process(frame, largest, roll_deg).probabilities
    if not small:
        counts.skipped["no_face"] += 1
        return None
    if largest is None:
        counts.whole_image += 1
    else:
        counts.tight_crop += 1
    return model.score_crop(whole_image_crop(image, model.input_size)).probabilities


def _context_scale(image: ImageArray) -> int:
    """Whole upscaling factor `_with_context` applies to a small image."""
    return max(1, _CONTEXT_PX // int(max(image.shape[:2])))


def _is_tight_crop(image: ImageArray, box: FaceBox) -> bool:
    """Whether `box`, found in `_with_context(image)`, spans most of `image`."""
    face_side = max(box.width, box.height) / _context_scale(image)
    return face_side >= TIGHT_CROP_MIN_COVERAGE * int(max(image.shape[:2]))


def predictions(
    items: list[LabelledItem],
    detector: FaceDetector,
    model: FaceExpressionModel,
    allowed: tuple[str, ...],
    landmarker: FaceLandmarker | None = None,
) -> tuple[list[str], list[str], FaceEvalCounts]:
    """(truth, predicted, counts): argmax restricted to `allowed` labels."""
    counts = FaceEvalCounts()
    truth, predicted = [], []
    for item in items:
        probabilities = predict_image(item.path, detector, model, counts, landmarker)
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
    """Evaluate with the verified detector and landmarks; extra counts for the JSON report."""
    detector = FaceDetector(FaceConfig(), registry.verify("face_detection").path)
    landmarker = FaceLandmarker(registry.verify("face_landmark").path)
    try:
        truth, predicted, counts = predictions(
            items, detector, FaceExpressionModel(spec, model), allowed, landmarker
        )
    finally:
        detector.close()
    extra: dict[str, Any] = {"skipped": counts.skipped}
    extra |= {"faces_detected": counts.detected, "scored_whole_image": counts.whole_image}
    extra["scored_tight_crop"] = counts.tight_crop
    return truth, predicted, extra
