"""Room measurements for calibration: aggregate statistics only, never the media itself.

Audio: noise floor (10th percentile of 20 ms frame energy), speech/background level (95th
percentile), and the share of clipped samples. Video: luminance percentiles and the sizes of
detected faces. Run it with nobody being served at the kiosk (a staff action).
"""

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.capture.base import AudioSource, VideoSource
from edge.face.detector import FaceDetectionStage
from edge.voice.vad import FrameFeatures

FRAME_SAMPLES = 320  # 20 ms at 16 kHz, as the VAD uses
CLIP_LEVEL = 0.999


@dataclass(frozen=True, slots=True)
class AudioStats:
    """Microphone level statistics, dBFS."""

    seconds: float
    noise_floor_dbfs: float
    level_p95_dbfs: float
    clipped_ratio: float


@dataclass(frozen=True, slots=True)
class VideoStats:
    """Lighting and face-size statistics."""

    frames: int
    luma_p10: float
    luma_p50: float
    luma_p90: float
    face_rate: float
    """Share of frames with at least one face."""
    face_px_p10: float | None
    face_px_p50: float | None


@dataclass(slots=True)
class _AudioAccumulator:
    energies: list[float] = field(default_factory=list)
    clipped: int = 0
    samples: int = 0
    leftover: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


def measure_audio(source: AudioSource, seconds: float, timeout_s: float = 1.0) -> AudioStats | None:
    """Read `seconds` of audio from `source`; None if it delivered nothing."""
    features, acc = FrameFeatures(FRAME_SAMPLES), _AudioAccumulator()
    while acc.samples < seconds * 16000 and not source.finished:
        chunk = source.read(timeout_s)
        if chunk is None:
            continue  # the loop condition notices a finished recording
        acc.samples += len(chunk.samples)
        acc.clipped += int(np.count_nonzero(np.abs(chunk.samples) >= CLIP_LEVEL))
        data = np.concatenate([acc.leftover, chunk.samples])
        usable = len(data) // FRAME_SAMPLES * FRAME_SAMPLES
        if usable:
            energy, _flatness = features(data[:usable].reshape(-1, FRAME_SAMPLES))
            acc.energies.extend(float(e) for e in energy)
        acc.leftover = data[usable:]
    if not acc.energies:
        return None
    energies = np.asarray(acc.energies)
    return AudioStats(
        seconds=round(acc.samples / 16000, 1),
        noise_floor_dbfs=round(float(np.percentile(energies, 10)), 1),
        level_p95_dbfs=round(float(np.percentile(energies, 95)), 1),
        clipped_ratio=acc.clipped / max(1, acc.samples),
    )


def measure_video(
    source: VideoSource, detector: FaceDetectionStage, frames: int, timeout_s: float = 1.0
) -> VideoStats | None:
    """Look at up to `frames` frames; None if the source delivered none."""
    lumas: list[float] = []
    sizes: list[float] = []
    with_face = 0
    while len(lumas) < frames and not source.finished:
        frame = source.read(timeout_s)
        if frame is None:
            continue
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        lumas.append(float(gray.mean()))
        boxes = detector.process(frame)
        with_face += bool(boxes)
        sizes.extend(float(min(b.width, b.height)) for b in boxes)
    if not lumas:
        return None
    percent = np.percentile(np.asarray(lumas), [10, 50, 90])
    return VideoStats(
        frames=len(lumas),
        luma_p10=round(float(percent[0]), 1),
        luma_p50=round(float(percent[1]), 1),
        luma_p90=round(float(percent[2]), 1),
        face_rate=round(with_face / len(lumas), 3),
        face_px_p10=round(float(np.percentile(sizes, 10)), 1) if sizes else None,
        face_px_p50=round(float(np.percentile(sizes, 50)), 1) if sizes else None,
    )
