"""Values that cross a stage boundary: typed, frozen, with units in their names.

Stages never read clocks or devices: capture stamps `ts_mono_ns` once, and everything
downstream carries it, so a recording replays exactly like a live session.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono audio, float32 in [-1, 1], as captured (never written anywhere)."""

    samples: FloatArray
    sample_rate_hz: int
    ts_mono_ns: int
    """Monotonic capture time of the first sample, nanoseconds."""

    @property
    def duration_s(self) -> float:
        """Length of the chunk in seconds."""
        return len(self.samples) / self.sample_rate_hz


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One BGR frame, as captured (never written anywhere)."""

    image: ImageArray
    ts_mono_ns: int
    """Monotonic capture time, nanoseconds."""
    index: int
    """Frame number from the source, counting dropped frames too."""


@dataclass(frozen=True, slots=True)
class EmotionScores:
    """A model's view of one window or face."""

    probabilities: dict[str, float]
    """Over the canonical categories the model supports; sums to 1."""
    valence: float
    """In [-1, 1]."""
    arousal: float
    """In [-1, 1]."""
    confidence: float
    """In [0, 1]."""


@dataclass(frozen=True, slots=True)
class VoiceReading:
    """The voice result for one analysis window."""

    ts_mono_ns: int
    window_s: float
    speech: bool
    """False: no speech in the window, so `scores` is None (nothing was scored)."""
    scores: EmotionScores | None


UnknownReason = Literal["too_small", "blurred", "too_dark", "too_bright", "head_turned"]


@dataclass(frozen=True, slots=True)
class FaceBox:
    """Face position in pixels of the frame it came from."""

    x: int
    y: int
    width: int
    height: int
    score: float
    """Detector confidence in [0, 1]."""


@dataclass(frozen=True, slots=True)
class FaceReading:
    """The face result for one tracked face in one frame."""

    ts_mono_ns: int
    track_id: str
    """Random, ephemeral, never derived from appearance."""
    box: FaceBox
    scores: EmotionScores | None
    """None when the quality gate refused the face; see `unknown_reason`."""
    unknown_reason: UnknownReason | None
    mouth_open: float | None
    """Mouth opening relative to face height (for telling who speaks), if measured."""
