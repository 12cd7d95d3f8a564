"""Turning any audio into the 16 kHz mono float32 every audio source delivers."""

import numpy as np
import numpy.typing as npt
import soxr

from edge.types import FloatArray

TARGET_RATE_HZ = 16000
NS_PER_S = 1_000_000_000


def to_mono(samples: npt.NDArray[np.floating]) -> FloatArray:
    """Averages the channels of (frames, channels) audio; 1-D audio passes through."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return np.ascontiguousarray(samples, dtype=np.float32)


class Resampler:
    """Streaming resampler from `in_rate_hz` to 16 kHz; no-op when the rates match.

    Streaming keeps the filter state between chunks, so chunk boundaries leave no clicks; soxr
    holds back a few milliseconds, which `flush()` returns at the end of a stream.
    """

    def __init__(self, in_rate_hz: int) -> None:
        self.in_rate_hz = in_rate_hz
        self._stream = (
            None
            if in_rate_hz == TARGET_RATE_HZ
            else soxr.ResampleStream(in_rate_hz, TARGET_RATE_HZ, 1, dtype="float32")
        )

    def __call__(self, samples: FloatArray) -> FloatArray:
        """The 16 kHz samples for the next piece of mono input (may be shorter or empty)."""
        if self._stream is None:
            return samples
        return np.asarray(self._stream.resample_chunk(samples), dtype=np.float32)

    def flush(self) -> FloatArray:
        """The samples still held back at the end of the stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        last = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        return np.asarray(last, dtype=np.float32)


def samples_to_ns(count: int, rate_hz: int = TARGET_RATE_HZ) -> int:
    """Duration of `count` samples at `rate_hz`, nanoseconds (exact for 16 kHz)."""
    return count * NS_PER_S // rate_hz
