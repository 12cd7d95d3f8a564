"""Facial-expression scoring of one detected face with the on-device TFLite model.

The crop is the detector's box (optionally widened by a margin), squared, converted to gray,
resized to the model's input and scaled to the manifest's `input_range` ([0, 1] unless it
says otherwise). No margin by default: BlazeFace boxes already frame a face the way FER2013
crops do (measured with the fer package's model on 420 FER2013 test faces: accuracy 0.655
with margin 0, 0.610 with 0.1, 0.514 with 0.2).
"""

import cv2
import numpy as np

from edge.inference.registry import ModelSpec
from edge.inference.runtime import TfliteModel
from edge.scoring import scores_from_probabilities
from edge.types import EmotionScores, FaceBox, ImageArray, VideoFrame

DEFAULT_MARGIN = 0.0


def face_crop(image: ImageArray, box: FaceBox, size: int, margin: float) -> ImageArray:
    """Square gray crop around `box`, widened by `margin` per side, resized to `size`."""
    side = int(max(box.width, box.height) * (1 + 2 * margin))
    cx, cy = box.x + box.width // 2, box.y + box.height // 2
    x0, y0 = cx - side // 2, cy - side // 2
    height, width = image.shape[:2]
    # Pad instead of shifting the square when the face is near the frame's edge.
    pad = max(0, -x0, -y0, x0 + side - width, y0 + side - height)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    crop = gray[y0 : y0 + side, x0 : x0 + side]
    # Area averaging to shrink (no aliasing); bilinear to enlarge (area would be blocky).
    interpolation = cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(crop, (size, size), interpolation=interpolation), np.uint8)


class FaceExpressionModel:
    """Pure stage: (frame, box) -> `EmotionScores` over the manifest's labels."""

    def __init__(self, spec: ModelSpec, model: TfliteModel, margin: float = DEFAULT_MARGIN) -> None:
        self._labels = spec.labels
        self._size = spec.input_shape[1]
        self._model = model
        self._margin = margin
        # Pixel range the model was trained on (manifest `input_range`, default [0, 1]).
        low, high = spec.extra.get("input_range", (0.0, 1.0))
        self._offset, self._scale = float(low), (float(high) - float(low)) / 255.0

    @property
    def input_size(self) -> int:
        """Side of the square gray input, pixels."""
        return self._size

    def score_crop(self, gray: ImageArray) -> EmotionScores:
        """Score an already cropped gray face of the model's input size."""
        scaled = gray.astype(np.float32) * self._scale + self._offset
        batch = scaled[np.newaxis, :, :, np.newaxis]
        return scores_from_probabilities(self._model.run(batch)[0], self._labels)

    def process(self, frame: VideoFrame, box: FaceBox) -> EmotionScores:
        """Score the face in `box` of `frame`."""
        return self.score_crop(face_crop(frame.image, box, self._size, self._margin))

    def reset(self) -> None:
        """Stateless: nothing to forget."""
