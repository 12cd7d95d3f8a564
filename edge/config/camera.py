"""Camera and face-path settings: capture device, detector, quality gate and tracker.

Sub-models of the root config; each stage receives only its own section.
"""

from typing import Literal

from pydantic import Field, model_validator

from edge.config.base import DeviceReopen, StrictModel


class CameraConfig(DeviceReopen):
    """The live camera: which device, at what size and rate, and how to recover when it goes."""

    device: int | str = Field(
        default=0,
        description="OpenCV camera index (0 = /dev/video0) or a device path such as "
        "/dev/v4l/by-id/usb-...-video-index0 (stable across replugging). Digits alone are an "
        "index, also when they come from the environment.",
    )
    width: int = Field(default=640, ge=160, le=3840, description="Requested frame width, px.")
    height: int = Field(default=480, ge=120, le=2160, description="Requested frame height, px.")
    fps: float = Field(default=15.0, gt=0, le=120, description="Requested frame rate, Hz.")
    stale_after_s: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="A camera that delivers no frame for this long is treated as lost, s.",
    )


class FaceConfig(StrictModel):
    """Face detection, the quality gate before scoring, and the ephemeral tracker."""

    detector_backend: Literal["mediapipe", "tflite"] = Field(
        # The default fits the 300 MB RSS budget: MediaPipe's graph runtime alone costs ~78 MB.
        default="tflite",
        description="Same BlazeFace model either way: 'tflite' runs it on ai-edge-litert with "
        "our own decoding; 'mediapipe' runs it in MediaPipe Tasks (measured: ~78 MB more RSS, "
        "~30% more CPU per frame, same boxes).",
    )
    min_detection_confidence: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        # Measured: BlazeFace scores uniform noise frames up to 0.65; real faces score > 0.9.
        description="Detector score below which a candidate is not a face.",
    )
    min_face_px: int = Field(
        default=48,
        ge=16,
        le=1024,
        description="Shorter side of the face box below this: too_small.",
    )
    blur_min_laplacian_var: float = Field(
        default=50.0,
        ge=0.0,
        # Measured at 64 px: sharp FER2013 faces >= 60 (all of 140) and ~250 median, CREMA-D
        # video ~680; a Gaussian blur of sigma 4% of the face width leaves 5% above 50.
        description="Variance of the Laplacian of the gray face crop (resized to 64x64 px) "
        "below this: blurred.",
    )
    exposure_min_mean: float = Field(
        default=45.0,
        ge=0,
        le=255,
        description="Mean luminance of the crop (0-255) below: too_dark.",
    )
    exposure_max_mean: float = Field(
        default=215.0,
        ge=0,
        le=255,
        description="Mean luminance of the crop (0-255) above: too_bright.",
    )
    max_yaw_deg: float = Field(
        default=35.0, gt=0, le=90, description="Head turned left/right beyond this: head_turned."
    )
    max_pitch_deg: float = Field(
        default=30.0, gt=0, le=90, description="Head tilted up/down beyond this: head_turned."
    )
    tracker_iou_min: float = Field(
        default=0.3, gt=0.0, le=1.0, description="Overlap needed to continue a track."
    )
    tracker_max_missed_frames: int = Field(
        default=8, ge=0, le=300, description="Frames a track survives without a detection."
    )
    tracker_max_tracks: int = Field(
        default=8, ge=1, le=64, description="Most faces followed at once (largest first)."
    )

    @model_validator(mode="after")
    def _exposure_ordered(self) -> "FaceConfig":
        if self.exposure_max_mean <= self.exposure_min_mean:
            raise ValueError("exposure_max_mean must be above exposure_min_mean")
        return self
