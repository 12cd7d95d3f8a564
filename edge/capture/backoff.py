"""Exponential backoff for reopening a lost device (microphone, camera)."""


class Backoff:
    """Exponential delays: `min_s`, doubling on every call, at most `max_s`, until `reset()`."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self._min_s, self._max_s = min_s, max_s
        self._next_s = min_s

    def next_delay_s(self) -> float:
        """The delay to wait now, seconds; the following one doubles."""
        delay_s = self._next_s
        self._next_s = min(self._next_s * 2, self._max_s)
        return delay_s

    def reset(self) -> None:
        """Back to `min_s` (after the device worked for a while)."""
        self._next_s = self._min_s
