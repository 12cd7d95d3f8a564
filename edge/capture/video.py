"""Live camera through OpenCV: always the newest frame, and reopened when it disappears.

A grabber thread reads the device as fast as it delivers and keeps only the newest frame in
a one-slot buffer; a frame replaced before anyone read it is counted as dropped, so a slow
pipeline never builds a backlog and never sees old pictures. When the camera goes away
(read fails with the device closed, or no frame for `stale_after_s`), the device is released
and reopened with exponential backoff while `read` returns None and `health` says
`reopening`. Frames live only in memory.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

import cv2

from edge.capture.backoff import Backoff
from edge.capture.rate import RateMeter
from edge.config.camera import CameraConfig
from edge.events.state_payloads import SourceHealth
from edge.types import ImageArray, VideoFrame

logger = logging.getLogger(__name__)


class CaptureDevice(Protocol):
    """The part of `cv2.VideoCapture` the camera source uses (tests pass a fake device)."""

    def isOpened(self) -> bool:
        """True while the device is open."""
        ...

    def read(self) -> tuple[bool, Any]:
        """Block for the next frame: (True, BGR image) or (False, None)."""
        ...

    def set(self, prop_id: int, value: float, /) -> bool:
        """Request a capture property (width, height, fps)."""
        ...

    def release(self) -> None:
        """Close the device."""
        ...


CaptureFactory = Callable[[int | str], CaptureDevice]
_State = Literal["ok", "reopening", "stopped"]


def open_cv_capture(device: int | str) -> CaptureDevice:
    """The real device: `cv2.VideoCapture` on an index or a path."""
    # An index that arrived as text (environment override) still means an index.
    if isinstance(device, str) and not device.isdigit():
        return cv2.VideoCapture(device)
    return cv2.VideoCapture(int(device))


class CameraSource:
    """`VideoSource` over a camera index or device path, with newest-frame-wins buffering."""

    def __init__(
        self,
        config: CameraConfig,
        *,
        capture_factory: CaptureFactory = open_cv_capture,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        name: str = "camera",
    ) -> None:
        """Start grabbing from `config.device` at once; `clock_ns` stamps frames (ns)."""
        self._config = config
        self._factory = capture_factory
        self._clock_ns = clock_ns
        self._name = name
        self._cond = threading.Condition()
        self._slot: VideoFrame | None = None
        self._index = 0
        self._dropped = 0
        self._state: _State = "reopening"
        self._rate = RateMeter()
        self._stop = threading.Event()
        self._heartbeat = 0
        self._thread = threading.Thread(target=self._run, name=f"grab-{name}", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        """A live camera never finishes."""
        return False

    @property
    def dropped_total(self) -> int:
        """Frames replaced by a newer one before they were read."""
        with self._cond:
            return self._dropped

    @property
    def heartbeat(self) -> int:
        """Grows with every read or open attempt; stalls only if a driver call hangs."""
        return self._heartbeat

    def read(self, timeout_s: float) -> VideoFrame | None:
        """The newest frame not yet read, waiting up to `timeout_s` seconds; else None."""
        with self._cond:
            if self._slot is None:
                self._cond.wait_for(
                    lambda: self._slot is not None or self._stop.is_set(), timeout_s
                )
            if self._stop.is_set():
                return None
            frame, self._slot = self._slot, None
            if frame is not None:
                self._rate.tick(self._clock_ns())
            return frame

    def health(self) -> SourceHealth:
        """State (`ok`, `reopening`, `stopped`), delivered rate and dropped frames."""
        with self._cond:
            state, dropped = self._state, self._dropped
            rate = self._rate.rate_hz(self._clock_ns())
        return SourceHealth(
            name=self._name,
            kind="camera",
            state=state,
            rate_hz=rate,
            dropped_total=dropped,
        )

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the grabber and release the device (waits up to `timeout_s` for a read)."""
        self._stop.set()
        with self._cond:
            self._state = "stopped"
            self._slot = None  # no frame outlives the source
            self._cond.notify_all()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        backoff = Backoff(self._config.reopen_min_s, self._config.reopen_max_s)
        attempts = 0
        while not self._stop.is_set():
            self._heartbeat += 1
            device = self._open()
            if device is None:
                attempts += 1
                if attempts == 1:
                    logger.warning("Camera %s unavailable; retrying with backoff", self._name)
                self._stop.wait(backoff.next_delay_s())
                continue
            logger.info("Camera %s opened after %d failed attempts", self._name, attempts)
            attempts = 0
            worked_s = 0.0
            try:
                worked_s = self._grab_until_lost(device)
            except Exception:
                # A driver error must not end the thread: treat it as a lost camera.
                logger.exception("Camera %s failed while reading", self._name)
            finally:
                device.release()
            # Only a camera that delivered for a while earns a quick retry: one that opens and
            # then never reads (a half-dead USB hub) must not be reopened at the minimum pace.
            if worked_s >= self._config.reopen_max_s:
                backoff.reset()
            if not self._stop.is_set():
                with self._cond:
                    self._state = "reopening"
                logger.warning("Camera %s lost; reopening", self._name)
                self._stop.wait(backoff.next_delay_s())

    def _open(self) -> CaptureDevice | None:
        try:
            device = self._factory(self._config.device)
        except Exception:
            logger.exception("Camera %s could not be created", self._name)
            return None
        if not device.isOpened():
            device.release()
            return None
        device.set(cv2.CAP_PROP_FRAME_WIDTH, self._config.width)
        device.set(cv2.CAP_PROP_FRAME_HEIGHT, self._config.height)
        device.set(cv2.CAP_PROP_FPS, self._config.fps)
        return device

    def _grab_until_lost(self, device: CaptureDevice) -> float:
        """Publishes frames until the device is lost; returns how long it delivered, seconds."""
        opened_ns = last_frame_ns = self._clock_ns()
        stale_ns = int(self._config.stale_after_s * 1e9)
        while not self._stop.is_set():
            ok, image = device.read()
            self._heartbeat += 1
            now_ns = self._clock_ns()
            if ok and image is not None:
                last_frame_ns = now_ns
                self._publish(image, now_ns)
                continue
            if not device.isOpened() or now_ns - last_frame_ns >= stale_ns:
                break
            # A single failed read happens on some USB cameras; retry at frame pace.
            self._stop.wait(1.0 / self._config.fps)
        return (last_frame_ns - opened_ns) / 1e9

    def _publish(self, image: ImageArray, now_ns: int) -> None:
        with self._cond:
            if self._stop.is_set():
                return
            # "ok" means frames arrive, not merely that the device opened.
            self._state = "ok"
            if self._slot is not None:
                self._dropped += 1
            self._slot = VideoFrame(image=image, ts_mono_ns=now_ns, index=self._index)
            self._index += 1
            self._cond.notify_all()
