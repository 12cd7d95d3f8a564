"""Test frames and clips made from real faces: FER2013 crops composed onto 640x480 frames.

No media is committed: clips are written into pytest's tmp_path and removed with it.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.types import FaceBox, ImageArray, VideoFrame
from tests.data_paths import DATA, fer_images

FRAME_W, FRAME_H = 640, 480
FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
BACKGROUND = 128


@dataclass(frozen=True, slots=True)
class Placement:
    """One face to draw: which FER image, where (top-left, px) and how big (side, px)."""

    image: Path
    x: int
    y: int
    size: int

    @property
    def box(self) -> FaceBox:
        """The ground-truth box of the drawn face."""
        return FaceBox(x=self.x, y=self.y, width=self.size, height=self.size, score=1.0)


def fer_sample(count: int) -> list[Path]:
    """`count` FER2013 test images spread evenly over the seven classes (repeatable)."""
    per_class = -(-count // len(FER_CLASSES))
    pools = [fer_images(label, per_class) for label in FER_CLASSES]
    mixed = [pool[i] for i in range(per_class) for pool in pools if i < len(pool)]
    return mixed[:count]


def face_patch(image: Path, size: int) -> ImageArray:
    """The 48x48 gray FER face upscaled to `size` px, as BGR."""
    gray = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
    assert gray is not None, image
    big = cv2.resize(gray, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.asarray(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR), dtype=np.uint8)


def compose(placements: Iterable[Placement], background: int = BACKGROUND) -> ImageArray:
    """A 640x480 BGR frame with each face drawn at its place on a plain background."""
    frame = np.full((FRAME_H, FRAME_W, 3), background, np.uint8)
    for p in placements:
        frame[p.y : p.y + p.size, p.x : p.x + p.size] = face_patch(p.image, p.size)
    return frame


def write_clip(path: Path, frames: Sequence[ImageArray], fps: float = 15.0) -> Path:
    """Write `frames` as an mp4 (mp4v) or avi (MJPG) file, chosen by the suffix."""
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (FRAME_W, FRAME_H))
    assert writer.isOpened(), path
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def as_frame(image: ImageArray, index: int = 0, fps: float = 15.0) -> VideoFrame:
    """Wrap an image as the `index`-th frame of a `fps` stream."""
    return VideoFrame(image=image, ts_mono_ns=round(index * 1e9 / fps), index=index)


def crema_clip(emotion: str = "ANG") -> Path:
    """A real CREMA-D audio-visual clip of actor 1001 (flv, 480x360, ~30 fps)."""
    path = DATA / "av" / "crema-d" / f"1001_DFA_{emotion}_XX.flv"
    if not path.is_file():
        pytest.skip(f"CREMA-D clip not found at {path} (set MOODSENSE_DATA)")
    return path
