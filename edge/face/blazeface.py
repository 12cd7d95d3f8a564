"""BlazeFace short-range through the plain TFLite runtime: the same model as `FaceDetector`,
without MediaPipe's graph runtime.

MediaPipe's Python package imports its audio tasks, matplotlib and a graph runtime; running the
model file directly costs a fraction of that memory, which matters under the 300 MB RSS budget.
The decoding follows MediaPipe's `face_detection_short_range` graph: 896 SSD anchors over
16x16 (2 per cell) and 8x8 (6 per cell) grids, boxes relative to anchors in 128-px units,
sigmoid scores, letterboxed input in [-1, 1], and weighted non-maximum suppression.
"""

import logging
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.config.camera import FaceConfig
from edge.face.detector import DEFAULT_DETECTOR_MODEL
from edge.inference.runtime import TfliteModel
from edge.types import FaceBox, VideoFrame

logger = logging.getLogger(__name__)

INPUT_PX = 128
NMS_IOU = 0.3
FloatArray = npt.NDArray[np.float32]


def _anchors() -> FloatArray:
    """(896, 2) anchor centres in [0, 1]: strides 8 (2 anchors) and 16 (6 anchors)."""
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        step = (np.arange(grid, dtype=np.float32) + 0.5) / grid
        ys, xs = np.meshgrid(step, step, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


ANCHORS = _anchors()


class BlazeFaceTflite:
    """Frame in, face boxes (pixels, clipped, best first) out; runs on ai-edge-litert."""

    def __init__(
        self, config: FaceConfig, model_path: Path = DEFAULT_DETECTOR_MODEL, num_threads: int = 1
    ) -> None:
        """Load the model on `num_threads` interpreter threads (`models.num_threads`)."""
        self._model = TfliteModel(model_path, num_threads=num_threads)
        self._min_score = config.min_detection_confidence
        logger.info("BlazeFace (TFLite runtime) loaded from %s", model_path.name)

    def process(self, frame: VideoFrame) -> list[FaceBox]:
        """Faces found in `frame` (BGR), highest score first."""
        height, width = frame.image.shape[:2]
        scale = INPUT_PX / max(width, height)
        resized = cv2.resize(frame.image, (round(width * scale), round(height * scale)))
        pad_x, pad_y = (INPUT_PX - resized.shape[1]) // 2, (INPUT_PX - resized.shape[0]) // 2
        canvas = np.zeros((INPUT_PX, INPUT_PX, 3), np.uint8)
        canvas[pad_y : pad_y + resized.shape[0], pad_x : pad_x + resized.shape[1]] = resized
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0
        regressors, logits = self._model.run(rgb[np.newaxis])
        logit = np.clip(logits.reshape(-1), -80.0, 80.0)  # float32 exp overflows past 88
        scores = (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        keep = np.flatnonzero(scores >= self._min_score)
        if keep.size == 0:
            return []
        raw = regressors.reshape(-1, 16)[keep, :4] / INPUT_PX
        centres = ANCHORS[keep] + raw[:, :2]
        corners = np.concatenate([centres - raw[:, 2:4] / 2, centres + raw[:, 2:4] / 2], axis=1)
        merged = _weighted_nms(corners * INPUT_PX, scores[keep])
        boxes = [_to_frame(c, s, scale, pad_x, pad_y, width, height) for c, s in merged]
        return [b for b in boxes if b is not None]

    def reset(self) -> None:
        """Nothing to forget: each frame is detected on its own."""


def _iou_many(box: FloatArray, others: FloatArray) -> FloatArray:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-6), dtype=np.float32)


def _weighted_nms(corners: FloatArray, scores: FloatArray) -> list[tuple[FloatArray, float]]:
    """MediaPipe's weighted NMS: overlapping candidates are averaged, weighted by score."""
    order = np.argsort(-scores)
    corners, scores = corners[order], scores[order]
    merged = []
    remaining = np.arange(len(scores))
    while remaining.size:
        overlap = _iou_many(corners[remaining[0]], corners[remaining])
        group = remaining[overlap >= NMS_IOU]
        weights = scores[group][:, None]
        merged.append(((corners[group] * weights).sum(0) / weights.sum(), float(scores[group[0]])))
        remaining = remaining[overlap < NMS_IOU]
    return merged


def _to_frame(
    corners: FloatArray, score: float, scale: float, pad_x: int, pad_y: int, width: int, height: int
) -> FaceBox | None:
    x0 = max(0, round(float(corners[0] - pad_x) / scale))
    y0 = max(0, round(float(corners[1] - pad_y) / scale))
    x1 = min(width, round(float(corners[2] - pad_x) / scale))
    y1 = min(height, round(float(corners[3] - pad_y) / scale))
    if x1 <= x0 or y1 <= y0:
        return None
    return FaceBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0, score=score)
