"""The small interfaces every capture source implements; `edge.app` picks the real one."""

from typing import Protocol

from edge.events.state_payloads import SourceHealth
from edge.types import AudioChunk, VideoFrame


class AudioSource(Protocol):
    """Microphone or audio file, delivering 16 kHz mono float32 chunks."""

    def read(self, timeout_s: float) -> AudioChunk | None:
        """The next chunk, or None if none arrived within `timeout_s` (or the source ended)."""
        ...

    @property
    def finished(self) -> bool:
        """True once a recording has been fully delivered (live devices never finish)."""
        ...

    def health(self) -> SourceHealth:
        """State, rate and drop counters for the health topic."""
        ...

    def close(self) -> None:
        """Release the device or file."""
        ...


class VideoSource(Protocol):
    """Camera, video file or image sequence, always delivering the newest frame."""

    def read(self, timeout_s: float) -> VideoFrame | None:
        """The newest frame, or None if none arrived within `timeout_s` (or the source ended)."""
        ...

    @property
    def finished(self) -> bool:
        """True once a recording has been fully delivered (live devices never finish)."""
        ...

    def health(self) -> SourceHealth:
        """State, rate and drop counters for the health topic."""
        ...

    def close(self) -> None:
        """Release the device or file."""
        ...
