"""468-point Face Mesh landmarks on a face box, reduced at once to head pose and mouth opening.

Runs `models/face_landmark.tflite` (192x192 RGB in [0, 1]) through the shared TFLite runtime.
Only a few numbers leave this stage (yaw, pitch, roll, mouth opening, presence): the landmark
set itself is dropped after the call, so it can never be kept, logged or published.
"""

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.inference.registry import DEFAULT_MODELS_DIR
from edge.inference.runtime import TfliteModel
from edge.types import FaceBox, VideoFrame

logger = logging.getLogger(__name__)

DEFAULT_LANDMARK_MODEL = DEFAULT_MODELS_DIR / "face_landmark.tflite"
INPUT_PX = 192
# The detector box is tight; Face Mesh was trained on a square 1.5x larger around its centre.
ROI_SCALE = 1.5
# Face Mesh indices: forehead top, chin, cheek edges (left/right), inner lips (upper/lower).
_FOREHEAD, _CHIN, _CHEEK_L, _CHEEK_R, _LIP_UP, _LIP_LOW = 10, 152, 234, 454, 13, 14
# Outer eye corners: the subject's right eye (image left on an unmirrored camera) and left eye.
_EYE_OUTER_R, _EYE_OUTER_L = 33, 263
# A first reading tilted at least this much is measured again in a turned region (one more
# model run): below it Face Mesh reads the tilt well enough (see `FaceLandmarker.process`).
REFINE_ROLL_DEG = 5.0


@dataclass(frozen=True, slots=True)
class FaceGeometry:
    """What the landmarks say about one face; the landmarks themselves are not kept."""

    yaw_deg: float
    """Head turned left/right; 0 = facing the camera (sign: positive = towards image right)."""
    pitch_deg: float
    """Head tilted up/down; 0 = level (sign: positive = chin up)."""
    roll_deg: float
    """Head tilted sideways in the image plane: slope of the eye line, 0 = level (sign:
    positive = the eye on the image right is lower, a clockwise tilt as seen)."""
    mouth_open: float
    """Inner-lip gap relative to face height (forehead to chin), about 0 closed to 0.3 wide."""
    presence: float
    """Model's face-present probability in [0, 1]."""


class FaceLandmarker:
    """Face box in, `FaceGeometry` out (None when the model sees no face in the box)."""

    def __init__(
        self,
        model_path: Path = DEFAULT_LANDMARK_MODEL,
        min_presence: float = 0.5,
        num_threads: int = 1,
    ) -> None:
        """Load the model on `num_threads` interpreter threads (`models.num_threads`)."""
        self._model = TfliteModel(model_path, num_threads=num_threads)
        self._min_presence = min_presence
        logger.info("Face landmark model loaded from %s", model_path.name)

    def process(self, frame: VideoFrame, box: FaceBox) -> FaceGeometry | None:
        """Landmarks on the square region around `box` of `frame` (BGR), reduced to geometry.

        Face Mesh expects an upright face (MediaPipe turns its region by the detector's eye
        line first) and under-reads a tilt: on faces tilted by 20 degrees the first pass says
        about 12. A tilted face is therefore measured again in a region turned by that first
        reading, which brings the eye line near level where the model reads it well.
        """
        first = self._points(frame, box, roll_deg=0.0)
        if first is None:
            return None
        points, presence = first
        roll_deg = eye_line_roll(points)
        if abs(roll_deg) >= REFINE_ROLL_DEG:
            second = self._points(frame, box, roll_deg=roll_deg)
            if second is not None:
                points, presence = second
                roll_deg = eye_line_roll(points)
        yaw_deg, pitch_deg = head_pose(points)
        return FaceGeometry(
            yaw_deg=yaw_deg,
            pitch_deg=pitch_deg,
            roll_deg=roll_deg,
            mouth_open=mouth_opening(points),
            presence=presence,
        )

    def _points(
        self, frame: VideoFrame, box: FaceBox, roll_deg: float
    ) -> tuple[npt.NDArray[np.float32], float] | None:
        """The 468 points in frame pixels and the presence, or None if no face is present."""
        to_crop = _region_matrix(box, roll_deg)
        crop = cv2.warpAffine(frame.image, to_crop, (INPUT_PX, INPUT_PX), flags=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        points_out, presence_out = self._model.run(rgb[np.newaxis])
        presence = 1.0 / (1.0 + math.exp(-float(presence_out.reshape(-1)[0])))
        if presence < self._min_presence:
            return None
        points = points_out.reshape(468, 3).astype(np.float32)
        to_frame = np.asarray(cv2.invertAffineTransform(to_crop), np.float64)
        frame_points = np.empty_like(points)
        frame_points[:, :2] = points[:, :2] @ to_frame[:, :2].T + to_frame[:, 2]
        # Depth is in crop pixels like x and y: bring it to frame pixels with the same scale.
        frame_points[:, 2] = points[:, 2] * float(np.hypot(*to_frame[0, :2]))
        return frame_points, presence

    def reset(self) -> None:
        """Nothing to forget: each face is measured on its own."""


def _region_matrix(box: FaceBox, roll_deg: float) -> npt.NDArray[np.float64]:
    """Affine map from the frame to the model's square input: the region around `box`,
    ROI_SCALE times its side, turned by `roll_deg` so a head tilted that much comes out upright.

    The warp pads with black where the square leaves the frame (faces at the edge).
    """
    side = max(box.width, box.height) * ROI_SCALE
    centre = (box.x + box.width / 2, box.y + box.height / 2)
    matrix = np.asarray(cv2.getRotationMatrix2D(centre, roll_deg, INPUT_PX / side), np.float64)
    matrix[:, 2] += np.array([INPUT_PX / 2 - centre[0], INPUT_PX / 2 - centre[1]])
    return matrix


def head_pose(points: npt.NDArray[np.float32]) -> tuple[float, float]:
    """Yaw and pitch in degrees from the face plane spanned by cheek-to-cheek and brow-to-chin."""
    across = points[_CHEEK_R] - points[_CHEEK_L]
    down = points[_CHIN] - points[_FOREHEAD]
    normal = np.cross(across, down)
    norm = float(np.linalg.norm(normal))
    if norm == 0.0:
        return 0.0, 0.0
    nx, ny, nz = (normal / norm).tolist()
    if nz < 0:  # orientation of the cross product depends on the axis handedness only
        nx, ny, nz = -nx, -ny, -nz
    yaw = math.degrees(math.atan2(nx, nz))
    pitch = math.degrees(math.atan2(-ny, nz))
    return yaw, pitch


def eye_line_roll(points: npt.NDArray[np.float32]) -> float:
    """Angle of the outer-eye-corner line in degrees, in [-90, 90], whichever eye is on the left.

    Taking the line left to right makes the angle the same on a mirrored (selfie) camera.
    """
    dx, dy = (points[_EYE_OUTER_L, :2] - points[_EYE_OUTER_R, :2]).tolist()
    if dx < 0:
        dx, dy = -dx, -dy
    return math.degrees(math.atan2(dy, dx))


def mouth_opening(points: npt.NDArray[np.float32]) -> float:
    """Inner-lip distance divided by forehead-to-chin distance (dimensionless)."""
    face_height = float(np.linalg.norm(points[_CHIN, :2] - points[_FOREHEAD, :2]))
    if face_height == 0.0:
        return 0.0
    return float(np.linalg.norm(points[_LIP_LOW, :2] - points[_LIP_UP, :2])) / face_height
