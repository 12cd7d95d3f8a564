"""Facial-expression scoring of one detected face with the on-device TFLite model.

The crop is a square around the detector's box, framed the way FER2013 crops (what both
expression models were trained on) frame a face, converted to gray, resized to the model's
input and scaled to the manifest's `input_range` ([0, 1] unless it says otherwise).

BlazeFace's box is tighter and lower than a FER2013 crop: on 1,200 FER2013 *train* faces pasted
into 640x480 frames at 160 and 240 px, the box side is 0.81-0.84 of the crop side and its centre
sits at 59 % of the crop's height (medians; no labels used). Cropping the bare box cost accuracy
on the validation split of `train/` (2,556 faces at 200 px in 640x480 frames): our model (v2)
0.619 with the bare box, 0.651 with this framing, 0.668 on the original crops; the fer
package's model 0.631, 0.683 and 0.745 (it has seen those images in training).

FER2013 faces are upright; kiosk customers tilt their heads. With the eye line's tilt from the
Face Mesh landmarks, the crop is turned with the head so the eyes come out level. On the same
validation faces pasted tilted by +-20 degrees, our model scored 0.625 on the upright crop and
0.666 on the levelled one; on untilted faces levelling costs nothing (0.651 upright, 0.657
levelled). `bench/face_framing.py [--roll 20]` measures it.
"""

import math

import cv2
import numpy as np

from edge.inference.registry import ModelSpec
from edge.inference.runtime import TfliteModel
from edge.scoring import scores_from_probabilities
from edge.types import EmotionScores, FaceBox, ImageArray, VideoFrame

CROP_SIDE_PER_BOX = 1.2
"""FER2013-style crop side / BlazeFace box side (the box is ~0.82 of the crop side)."""
CROP_RAISE = 0.09
"""How far above the box centre the crop centre sits, as a share of the crop side."""


def face_crop(
    image: ImageArray,
    box: FaceBox,
    size: int,
    side_per_box: float = CROP_SIDE_PER_BOX,
    raise_share: float = CROP_RAISE,
    roll_deg: float = 0.0,
) -> ImageArray:
    """Square gray crop around `box`, resized to `size` px.

    By default framed like FER2013 (see the module docstring); `side_per_box=1, raise_share=0`
    is the bare detector box, which `bench/face_framing.py` compares against. A `roll_deg`
    (the eye line's slope, from the landmarks) turns the square with the head so the eyes come
    out level, as in FER2013's upright faces.
    """
    side = round(max(box.width, box.height) * side_per_box)
    gray = np.asarray(
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image, np.uint8
    )
    if not roll_deg:
        crop = _upright_square(gray, box, side, raise_share)
    else:
        crop = _rolled_square(gray, box, side, raise_share, roll_deg)
    # Area averaging to shrink (no aliasing); bilinear to enlarge (area would be blocky).
    interpolation = cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(crop, (size, size), interpolation=interpolation), np.uint8)


def _upright_square(gray: ImageArray, box: FaceBox, side: int, raise_share: float) -> ImageArray:
    """The square of `side` px centred `raise_share` of a side above the box centre."""
    cx, cy = box.x + box.width // 2, box.y + box.height // 2 - round(raise_share * side)
    x0, y0 = cx - side // 2, cy - side // 2
    height, width = gray.shape[:2]
    # Pad instead of shifting the square when the face is near the frame's edge.
    pad = max(0, -x0, -y0, x0 + side - width, y0 + side - height)
    if pad:
        gray = np.asarray(
            cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE), np.uint8
        )
        x0, y0 = x0 + pad, y0 + pad
    return gray[y0 : y0 + side, x0 : x0 + side]


def _rolled_square(
    gray: ImageArray, box: FaceBox, side: int, raise_share: float, roll_deg: float
) -> ImageArray:
    """The same square turned by `roll_deg` with the head, sampled upright at full resolution.

    "Above the box centre" follows the head's own up direction, (sin, -cos) of the roll in
    image coordinates (y down); the shrink to the model's size is left to `face_crop`.
    """
    roll = math.radians(roll_deg)
    cx = box.x + box.width / 2 + raise_share * side * math.sin(roll)
    cy = box.y + box.height / 2 - raise_share * side * math.cos(roll)
    # A positive OpenCV angle turns the image counter-clockwise, undoing a clockwise head tilt.
    matrix = np.asarray(cv2.getRotationMatrix2D((cx, cy), roll_deg, 1.0), np.float64)
    matrix[:, 2] += np.array([side / 2 - cx, side / 2 - cy])
    level = cv2.warpAffine(
        gray, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(level, np.uint8)


class FaceExpressionModel:
    """Pure stage: (frame, box) -> `EmotionScores` over the manifest's labels."""

    def __init__(self, spec: ModelSpec, model: TfliteModel) -> None:
        self._labels = spec.labels
        self._size = spec.input_shape[1]
        self._model = model
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

    def process(self, frame: VideoFrame, box: FaceBox, roll_deg: float = 0.0) -> EmotionScores:
        """Score the face in `box` of `frame`, levelled by its eye-line `roll_deg` if known."""
        return self.score_crop(face_crop(frame.image, box, self._size, roll_deg=roll_deg))

    def reset(self) -> None:
        """Stateless: nothing to forget."""
