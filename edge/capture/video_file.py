"""Recordings that feed the same `VideoFrame` path as the camera: video files and image folders.

Timestamps are synthetic and deterministic (`index / fps` from `start_ns`), so a replay gives
the same stage inputs every time, whatever the machine's speed. With `realtime=True` frames are
released no earlier than their timestamp after the first read (for demos and soak tests).
"""

import glob
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edge.capture.rate import RateMeter
from edge.events.state_payloads import SourceHealth
from edge.types import ImageArray, VideoFrame

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


class _RecordedSource:
    """Frame numbering, synthetic time, pacing, `finished` and health for a recording."""

    def __init__(
        self,
        name: str,
        fps: float,
        *,
        realtime: bool,
        start_ns: int,
        clock_ns: Callable[[], int],
    ) -> None:
        if fps <= 0:
            raise ValueError(f"{name}: frame rate must be positive, got {fps}")
        self.fps = fps
        self._name = name
        self._realtime = realtime
        self._start_ns = start_ns
        self._clock_ns = clock_ns
        self._origin_ns: int | None = None
        self._index = 0
        self._finished = False
        self._closed = threading.Event()
        self._rate = RateMeter()
        self._pending: ImageArray | None = None

    def _next_image(self) -> ImageArray | None:
        """The next image of the recording, or None at its end."""
        raise NotImplementedError

    def _release(self) -> None:
        """Free what the recording holds open."""

    @property
    def finished(self) -> bool:
        """True once every frame was delivered (or the source was closed)."""
        return self._finished

    def read(self, timeout_s: float) -> VideoFrame | None:
        """The next frame; None at the end, or when pacing makes it due after `timeout_s`."""
        if self._finished:
            return None
        if self._pending is None:
            self._pending = self._next_image()
            if self._pending is None:
                self._finish()
                return None
        ts_ns = self._start_ns + round(self._index * 1e9 / self.fps)
        if self._realtime and not self._wait_until_due(ts_ns, timeout_s):
            return None
        frame = VideoFrame(image=self._pending, ts_mono_ns=ts_ns, index=self._index)
        self._pending = None
        self._index += 1
        self._rate.tick(self._clock_ns())
        return frame

    def _wait_until_due(self, ts_ns: int, timeout_s: float) -> bool:
        now_ns = self._clock_ns()
        if self._origin_ns is None:
            self._origin_ns = now_ns - (ts_ns - self._start_ns)
        wait_s = (self._origin_ns + ts_ns - self._start_ns - now_ns) / 1e9
        if wait_s > timeout_s:
            self._closed.wait(timeout_s)
            return False
        if wait_s > 0:
            self._closed.wait(wait_s)
        return not self._closed.is_set()

    def health(self) -> SourceHealth:
        """`ok` while frames remain, `stopped` at the end; delivered frames per second."""
        return SourceHealth(
            name=self._name,
            kind="file",
            state="stopped" if self._finished else "ok",
            rate_hz=self._rate.rate_hz(self._clock_ns()),
            dropped_total=0,
        )

    def close(self) -> None:
        """Release the recording; later reads return None."""
        self._closed.set()
        self._finish()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._release()
            logger.info("Recording %s finished after %d frames", self._name, self._index)


class VideoFileSource(_RecordedSource):
    """An mp4/avi/flv file decoded with OpenCV, at the file's frame rate unless `fps` is given."""

    def __init__(
        self,
        path: Path,
        *,
        fps: float | None = None,
        realtime: bool = False,
        start_ns: int = 0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """Open `path`; raises FileNotFoundError when OpenCV cannot open it."""
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise FileNotFoundError(f"cannot open video file {path}")
        file_fps = float(capture.get(cv2.CAP_PROP_FPS))
        super().__init__(
            path.name,
            fps or (file_fps if file_fps > 0 else 25.0),
            realtime=realtime,
            start_ns=start_ns,
            clock_ns=clock_ns,
        )
        self._capture = capture

    def _next_image(self) -> ImageArray | None:
        ok, image = self._capture.read()
        return np.asarray(image, dtype=np.uint8) if ok and image is not None else None

    def _release(self) -> None:
        self._capture.release()


class ImageSequenceSource(_RecordedSource):
    """Still images from a folder (sorted by name) or a glob pattern, at a fixed `fps`."""

    def __init__(
        self,
        pattern: Path | str,
        fps: float,
        *,
        realtime: bool = False,
        start_ns: int = 0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """Collect the images; raises FileNotFoundError when there are none."""
        self._paths = list_images(pattern)
        if not self._paths:
            raise FileNotFoundError(f"no images match {pattern}")
        super().__init__(str(pattern), fps, realtime=realtime, start_ns=start_ns, clock_ns=clock_ns)
        self._position = 0
        self.unreadable_total = 0
        """Files that matched but did not decode (skipped)."""

    def _next_image(self) -> ImageArray | None:
        while self._position < len(self._paths):
            path = self._paths[self._position]
            self._position += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return np.asarray(image, dtype=np.uint8)
            self.unreadable_total += 1
            logger.warning("Skipping unreadable image %s", path.name)
        return None


def list_images(pattern: Path | str) -> list[Path]:
    """Image files in a folder, or matching a glob pattern, sorted by path."""
    folder = Path(pattern)
    if folder.is_dir():
        candidates = list(folder.iterdir())
    else:
        candidates = [Path(p) for p in glob.glob(str(pattern))]
    return sorted(p for p in candidates if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
