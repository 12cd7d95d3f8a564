"""468-point Face Mesh landmarks on a face box, reduced at once to head pose and mouth opening.

Runs `models/face_landmark.tflite` (192x192 RGB in [0, 1]) through the shared TFLite runtime.
Only three numbers leave this stage: the landmark set itself is dropped after the call, so it
can never be kept, logged or published.
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


@dataclass(frozen=True, slots=True)
class FaceGeometry:
    """What the landmarks say about one face; the landmarks themselves are not kept."""

    yaw_deg: float
    """Head turned left/right; 0 = facing the camera (sign: positive = towards image right)."""
    pitch_deg: float
    """Head tilted up/down; 0 = level (sign: positive = chin up)."""
    mouth_open: float
    """Inner-lip gap relative to face height (forehead to chin), about 0 closed to 0.3 wide."""
    presence: float
    """Model's face-present probability in [0, 1]."""


class FaceLandmarker:
    """Face box in, `FaceGeometry` out (None when the model sees no face in the box)."""

    def __init__(
        self, model_path: Path = DEFAULT_LANDMARK_MODEL, min_presence: float = 0.5
    ) -> None:
        """Load the model on one interpreter thread."""
        self._model = TfliteModel(model_path, num_threads=1)
        self._min_presence = min_presence
        logger.info("Face landmark model loaded from %s", model_path.name)

    def process(self, frame: VideoFrame, box: FaceBox) -> FaceGeometry | None:
        """Landmarks on the square region around `box` of `frame` (BGR), reduced to geometry."""
        crop, scale = _square_crop(frame, box)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        points_out, presence_out = self._model.run(rgb[np.newaxis])
        presence = 1.0 / (1.0 + math.exp(-float(presence_out.reshape(-1)[0])))
        if presence < self._min_presence:
            return None
        points = points_out.reshape(468, 3) * scale  # frame pixel scale; angles need no offset
        yaw_deg, pitch_deg = head_pose(points)
        return FaceGeometry(
            yaw_deg=yaw_deg,
            pitch_deg=pitch_deg,
            mouth_open=mouth_opening(points),
            presence=presence,
        )

    def reset(self) -> None:
        """Nothing to forget: each face is measured on its own."""


def _square_crop(frame: VideoFrame, box: FaceBox) -> tuple[npt.NDArray[np.uint8], float]:
    side = max(box.width, box.height) * ROI_SCALE
    centre_x = box.x + box.width / 2
    centre_y = box.y + box.height / 2
    scale = side / INPUT_PX
    # An affine warp pads with black where the square leaves the frame (faces at the edge).
    matrix = np.array(
        [
            [1 / scale, 0, INPUT_PX / 2 - centre_x / scale],
            [0, 1 / scale, INPUT_PX / 2 - centre_y / scale],
        ],
        dtype=np.float32,
    )
    crop = cv2.warpAffine(frame.image, matrix, (INPUT_PX, INPUT_PX), flags=cv2.INTER_LINEAR)
    return np.asarray(crop, dtype=np.uint8), scale


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


def mouth_opening(points: npt.NDArray[np.float32]) -> float:
    """Inner-lip distance divided by forehead-to-chin distance (dimensionless)."""
    face_height = float(np.linalg.norm(points[_CHIN, :2] - points[_FOREHEAD, :2]))
    if face_height == 0.0:
        return 0.0
    return float(np.linalg.norm(points[_LIP_LOW, :2] - points[_LIP_UP, :2])) / face_height
