"""A recording as an audio source: replays through exactly the path live audio takes.

Any format libsndfile reads (WAV, FLAC, OGG; MP3 with libsndfile >= 1.1) and the audio track of
any container FFmpeg reads (FLV, MP4, MKV: `edge.capture.audio_decode`), any sample rate and
channel count, decoded block by block: channels are averaged and the audio is resampled to
16 kHz with soxr, then cut into fixed chunks (the last one may be shorter). Timestamps are
synthetic, derived from the sample position, so a replay is deterministic whether paced like a
live microphone or run at full speed.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.capture.audio_decode import open_decoder
from edge.capture.resample import TARGET_RATE_HZ, Resampler, samples_to_ns, to_mono
from edge.events.state_payloads import SourceHealth
from edge.types import AudioChunk, FloatArray

logger = logging.getLogger(__name__)


class AudioFileSource:
    """Reads an audio file as 16 kHz mono float32 chunks (an `AudioSource`)."""

    def __init__(
        self,
        path: Path,
        *,
        chunk_ms: int = 100,
        realtime: bool = False,
        start_ts_mono_ns: int = 0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        sleep_s: Callable[[float], None] = time.sleep,
    ) -> None:
        """Opens `path` (raises `AudioFileError`, a ValueError, when it is not readable audio).

        `realtime` paces delivery like a live microphone (one `chunk_ms` chunk per `chunk_ms`
        of `clock_ns`), otherwise chunks come as fast as they are read. The first sample is
        stamped `start_ts_mono_ns`; `clock_ns` and `sleep_s` are only used for pacing.
        """
        if chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        self._name = path.name
        self._decoder = open_decoder(path, block_s=chunk_ms / 1000)
        self._resampler = Resampler(self._decoder.rate_hz)
        self._chunk_len = TARGET_RATE_HZ * chunk_ms // 1000
        self._chunk_ms = chunk_ms
        self._realtime = realtime
        self._start_ts_ns = start_ts_mono_ns
        self._clock_ns = clock_ns
        self._sleep_s = sleep_s
        self._buffer: FloatArray = np.zeros(0, dtype=np.float32)
        self._eof = False
        self._closed = False
        self._delivered = 0
        self._paced_from_ns: int | None = None
        self._ready = self._next_chunk()
        logger.info(
            "Replaying %s (%d Hz, %d channels)",
            self._name,
            self._decoder.rate_hz,
            self._decoder.channels,
        )

    @property
    def finished(self) -> bool:
        """True once the last chunk has been delivered (or the source was closed)."""
        return self._ready is None

    def read(self, timeout_s: float) -> AudioChunk | None:
        """The next chunk; None at the end, or when pacing holds it back longer than `timeout_s`."""
        chunk = self._ready
        if chunk is None:
            return None
        if self._realtime and not self._wait_until_due(chunk, timeout_s):
            return None
        self._delivered += len(chunk.samples)
        self._ready = self._next_chunk()
        return chunk

    def health(self) -> SourceHealth:
        """`ok` while replaying, `stopped` once finished; the nominal chunk rate."""
        running = not self.finished
        return SourceHealth(
            name=self._name,
            kind="file",
            state="ok" if running else "stopped",
            rate_hz=1000 / self._chunk_ms if running else 0.0,
            dropped_total=0,
        )

    def close(self) -> None:
        """Closes the file; `read` returns None from now on."""
        self._closed = True
        self._ready = None
        self._decoder.close()

    def _wait_until_due(self, chunk: AudioChunk, timeout_s: float) -> bool:
        now_ns = self._clock_ns()
        if self._paced_from_ns is None:
            self._paced_from_ns = now_ns - (chunk.ts_mono_ns - self._start_ts_ns)
        due_ns = self._paced_from_ns + chunk.ts_mono_ns - self._start_ts_ns
        wait_s = (due_ns - now_ns) / 1e9
        if wait_s > timeout_s:
            self._sleep_s(timeout_s)
            return False
        if wait_s > 0:
            self._sleep_s(wait_s)
        return True

    def _next_chunk(self) -> AudioChunk | None:
        while len(self._buffer) < self._chunk_len and not self._eof:
            self._buffer = np.concatenate((self._buffer, self._read_block()))
        if self._closed or len(self._buffer) == 0:
            return None
        samples, self._buffer = self._buffer[: self._chunk_len], self._buffer[self._chunk_len :]
        ts_ns = self._start_ts_ns + samples_to_ns(self._delivered)
        return AudioChunk(samples=samples, sample_rate_hz=TARGET_RATE_HZ, ts_mono_ns=ts_ns)

    def _read_block(self) -> FloatArray:
        block = self._decoder.read_block()
        if len(block) == 0:
            # The end of the file: soxr still holds the last few milliseconds.
            self._eof = True
            return self._resampler.flush()
        return self._resampler(to_mono(block))
