"""Pipeline throughput and latency for health: frames per second and capture-to-done time.

The live loop calls `done(capture_ns, now_ns)` after each frame (or audio chunk without a
camera); both stamps come from the monotonic clock, so a wall-clock jump cannot bend them.
The face quality gate's counts are read from the face path when health is asked for.
"""

import threading
from collections.abc import Callable

import numpy as np

from edge.capture.rate import RateMeter
from edge.events.state_payloads import FaceQualityHealth, PipelineHealth

_LATENCY_WINDOW = 256
_NS_PER_MS = 1_000_000


class PipelineMeter:
    """Counts processed frames and keeps the latencies of the most recent ones."""

    def __init__(
        self,
        window: int = _LATENCY_WINDOW,
        faces: Callable[[], FaceQualityHealth | None] = lambda: None,
    ) -> None:
        """`faces` reports the face quality gate's counts (None: no camera)."""
        self._faces = faces
        self._lock = threading.Lock()
        self._latencies_ms: list[float] = []
        self._window = window
        self._next = 0
        self._rate = RateMeter()
        self.frames_total = 0

    def done(self, capture_ns: int, now_ns: int) -> None:
        """One frame processed: captured at `capture_ns`, finished at `now_ns` (monotonic)."""
        latency_ms = max(0, now_ns - capture_ns) / _NS_PER_MS
        with self._lock:
            if len(self._latencies_ms) < self._window:
                self._latencies_ms.append(latency_ms)
            else:  # a ring: the oldest latency makes room
                self._latencies_ms[self._next] = latency_ms
                self._next = (self._next + 1) % self._window
            self._rate.tick(now_ns)
            self.frames_total += 1

    def health(self, now_ns: int) -> PipelineHealth:
        """Rate and latency percentiles now (latency null before the first frame)."""
        with self._lock:
            latencies = list(self._latencies_ms)
            fps = self._rate.rate_hz(now_ns)
            total = self.frames_total
        p50 = p95 = None
        if latencies:
            p50, p95 = (round(float(v), 1) for v in np.percentile(latencies, [50, 95]))
        return PipelineHealth(
            fps=round(fps, 2),
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            frames_total=total,
            faces=self._faces(),
        )
