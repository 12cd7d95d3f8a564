"""Face detection with the BlazeFace short-range model: the backend factory and the MediaPipe one.

`create_detector` picks the backend the config names: by default the plain TFLite one
(`edge.face.blazeface`, ~78 MB less memory); `FaceDetector` below runs the same model in
MediaPipe Tasks.

The model file comes from `models/` (Apache-2.0, see models/THIRD_PARTY_NOTICE.md); nothing is
downloaded. IMAGE running mode keeps the stage stateless, so a replay may restart at any frame.
BlazeFace short-range is made for faces within about 2 m of the camera: kiosk distance.
CLAHE on the detector input was measured on backlit composites and did not raise recall (it
lowered it on evenly lit frames), so the detector sees the frame as captured.
"""

import logging
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from edge.config.camera import FaceConfig
from edge.inference.registry import DEFAULT_MODELS_DIR
from edge.types import FaceBox, VideoFrame

logger = logging.getLogger(__name__)

DEFAULT_DETECTOR_MODEL = DEFAULT_MODELS_DIR / "face_detection_short_range.tflite"


class DetectorUnavailable(RuntimeError):
    """MediaPipe is missing or could not load the detector model."""


class FaceDetectionStage(Protocol):
    """What the pipeline needs from a face detector, whichever runtime runs the model."""

    def process(self, frame: VideoFrame) -> list[FaceBox]:
        """Faces in `frame`, in pixels, best first."""
        ...

    def reset(self) -> None:
        """Forget any state between frames."""
        ...


def create_detector(
    config: FaceConfig, model_path: Path = DEFAULT_DETECTOR_MODEL, num_threads: int = 1
) -> FaceDetectionStage:
    """The detector `config.detector_backend` names, on the BlazeFace short-range model.

    `num_threads` sets the TFLite backend's interpreter; MediaPipe Tasks' Python API has no
    thread setting, so that backend ignores it.
    """
    if config.detector_backend == "tflite":
        # Imported here: the TFLite backend must not pull MediaPipe in, and vice versa.
        from edge.face.blazeface import BlazeFaceTflite

        return BlazeFaceTflite(config, model_path, num_threads)
    return FaceDetector(config, model_path)


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


class FaceDetector:
    """Frame in, face boxes (pixels, clipped to the frame, best first) out."""

    def __init__(self, config: FaceConfig, model_path: Path = DEFAULT_DETECTOR_MODEL) -> None:
        """Load the model into a MediaPipe Tasks graph (IMAGE mode)."""
        self._task = _create_task(model_path, config.min_detection_confidence)
        logger.info("Face detector loaded from %s", model_path.name)

    def process(self, frame: VideoFrame) -> list[FaceBox]:
        """Faces found in `frame` (BGR), highest score first."""
        import mediapipe as mp

        rgb = np.ascontiguousarray(cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB))
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
