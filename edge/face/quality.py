"""Quality gate before expression scoring: a face too small, blurred, badly lit or turned away
is reported as `unknown` with its reason (and counted) instead of being scored.

Checks run cheapest and most fundamental first: size, then exposure (a dark crop also looks
blurred, so exposure must speak first), then sharpness, then head pose when landmarks exist.
"""

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from edge.config.camera import FaceConfig
from edge.face.landmarks import FaceGeometry
from edge.types import FaceBox, UnknownReason, VideoFrame

# Sharpness is measured at one fixed crop size so the threshold holds for near and far faces.
SHARPNESS_PX = 64


@dataclass(frozen=True, slots=True)
class QualityVerdict:
    """The gate's decision for one face, with the measurements behind it."""

    reason: UnknownReason | None
    """None: good enough to score."""
    mean_luma: float
    """Mean gray level of the face crop, 0-255 (NaN when not measured)."""
    sharpness: float
    """Variance of the Laplacian of the 64x64 gray crop (NaN when not measured)."""

    @property
    def passed(self) -> bool:
        """True when the face may be scored."""
        return self.reason is None


class QualityGate:
    """Face box (+ optional geometry) in, `QualityVerdict` out; counts refusals per reason."""

    def __init__(self, config: FaceConfig) -> None:
        """Thresholds come from the `face` config section."""
        self._config = config
        self.refused: Counter[UnknownReason] = Counter()
        """Faces refused so far, per reason."""
        self.passed_total = 0

    def process(
        self, frame: VideoFrame, box: FaceBox, geometry: FaceGeometry | None = None
    ) -> QualityVerdict:
        """Judge the face in `box` of `frame`; `geometry` adds the head-pose check."""
        verdict = self._judge(frame, box, geometry)
        if verdict.reason is None:
            self.passed_total += 1
        else:
            self.refused[verdict.reason] += 1
        return verdict

    def reset(self) -> None:
        """Zero the counters."""
        self.refused.clear()
        self.passed_total = 0

    def _judge(
        self, frame: VideoFrame, box: FaceBox, geometry: FaceGeometry | None
    ) -> QualityVerdict:
        cfg = self._config
        nan = float("nan")
        if min(box.width, box.height) < cfg.min_face_px:
            return QualityVerdict("too_small", nan, nan)
        gray = _gray_crop(frame, box)
        luma = float(gray.mean())
        if luma < cfg.exposure_min_mean:
            return QualityVerdict("too_dark", luma, nan)
        if luma > cfg.exposure_max_mean:
            return QualityVerdict("too_bright", luma, nan)
        sharpness = laplacian_variance(gray)
        if sharpness < cfg.blur_min_laplacian_var:
            return QualityVerdict("blurred", luma, sharpness)
        if geometry is not None and (
            abs(geometry.yaw_deg) > cfg.max_yaw_deg or abs(geometry.pitch_deg) > cfg.max_pitch_deg
        ):
            return QualityVerdict("head_turned", luma, sharpness)
        return QualityVerdict(None, luma, sharpness)


def _gray_crop(frame: VideoFrame, box: FaceBox) -> np.ndarray:
    crop = frame.image[box.y : box.y + box.height, box.x : box.x + box.width]
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop


def laplacian_variance(gray: np.ndarray) -> float:
    """Sharpness of a gray crop: variance of its Laplacian after resizing to 64x64 px."""
    small = cv2.resize(gray, (SHARPNESS_PX, SHARPNESS_PX), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(small, cv2.CV_64F).var())
