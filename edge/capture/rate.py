"""Delivered-rate measurement shared by the capture sources (for the health topic)."""

from collections import deque


class RateMeter:
    """Frames per second over the last `window` deliveries, from caller-supplied times."""

    def __init__(self, window: int = 32) -> None:
        self._times_ns: deque[int] = deque(maxlen=window)

    def tick(self, now_ns: int) -> None:
        """Record one delivery at monotonic time `now_ns` (nanoseconds)."""
        self._times_ns.append(now_ns)

    def rate_hz(self, now_ns: int, idle_after_s: float = 2.0) -> float:
        """Deliveries per second; 0 once nothing was delivered for `idle_after_s` seconds."""
        if len(self._times_ns) < 2 or now_ns - self._times_ns[-1] > idle_after_s * 1e9:
            return 0.0
        span_ns = self._times_ns[-1] - self._times_ns[0]
        return (len(self._times_ns) - 1) * 1e9 / span_ns if span_ns > 0 else 0.0

    def reset(self) -> None:
        """Forget every recorded delivery."""
        self._times_ns.clear()
