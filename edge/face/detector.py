"""Face detection: MediaPipe Tasks `FaceDetector` running the BlazeFace short-range model.

The model file comes from `models/` (Apache-2.0, see models/THIRD_PARTY_NOTICE.md); nothing is
downloaded. IMAGE running mode keeps the stage stateless, so a replay may restart at any frame.
BlazeFace short-range is made for faces within about 2 m of the camera: kiosk distance.
"""

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.config.camera import FaceConfig
from edge.types import FaceBox, ImageArray, VideoFrame

logger = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_DETECTOR_MODEL = MODELS_DIR / "face_detection_short_range.tflite"


class DetectorUnavailable(RuntimeError):
    """MediaPipe is missing or could not load the detector model."""


def _create_task(model_path: Path, min_confidence: float) -> Any:
    try:
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions
    except ImportError as exc:
        raise DetectorUnavailable(
            "MediaPipe is not installed; install it with `pip install mediapipe`"
        ) from exc
    if not model_path.is_file():
        raise DetectorUnavailable(f"face detector model not found: {model_path}")
    options = vision.FaceDetectorOptions(
        base_options=BaseOptions(model_asset_buffer=model_path.read_bytes()),
        running_mode=vision.RunningMode.IMAGE,
        min_detection_confidence=min_confidence,
    )
    try:
        return vision.FaceDetector.create_from_options(options)
    except (RuntimeError, ValueError) as exc:
        raise DetectorUnavailable(f"{model_path}: MediaPipe could not load it ({exc})") from exc


def normalise_light(image: ImageArray, clip_limit: float = 2.0) -> ImageArray:
    """Contrast-limited histogram equalisation of luminance (helps backlit, dim faces)."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(8, 8))
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return np.asarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), dtype=np.uint8)


class FaceDetector:
    """Frame in, face boxes (pixels, clipped to the frame, best first) out."""

    def __init__(
        self,
        config: FaceConfig,
        model_path: Path = DEFAULT_DETECTOR_MODEL,
        *,
        equalise: bool = False,
    ) -> None:
        """Load the model; `equalise` applies `normalise_light` to the detector input only."""
        self._task = _create_task(model_path, config.min_detection_confidence)
        self._equalise = equalise
        logger.info("Face detector loaded from %s", model_path.name)

    def process(self, frame: VideoFrame) -> list[FaceBox]:
        """Faces found in `frame` (BGR), highest score first."""
        import mediapipe as mp

        image = normalise_light(frame.image) if self._equalise else frame.image
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        result = self._task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        height, width = frame.image.shape[:2]
        boxes = [_to_box(d, width, height) for d in result.detections]
        return sorted((b for b in boxes if b is not None), key=lambda b: -b.score)

    def reset(self) -> None:
        """Nothing to forget: IMAGE mode keeps no state between frames."""

    def close(self) -> None:
        """Free the MediaPipe graph."""
        self._task.close()


def _to_box(detection: Any, width: int, height: int) -> FaceBox | None:
    bb = detection.bounding_box
    x0, y0 = max(0, int(bb.origin_x)), max(0, int(bb.origin_y))
    x1 = min(width, int(bb.origin_x + bb.width))
    y1 = min(height, int(bb.origin_y + bb.height))
    if x1 <= x0 or y1 <= y0:
        return None
    score = float(detection.categories[0].score)
    return FaceBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0, score=score)
