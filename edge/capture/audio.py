"""The microphone as an audio source: sounddevice capture that survives a lost device.

The PortAudio callback only stamps and copies each block into a bounded ring; `read` resamples
(when the device could not open at 16 kHz) outside it. A supervisor thread opens the stream,
watches it, and when the device disappears (the stream stops, opening fails, or no audio arrives
for `stall_timeout_s`) closes it and reopens it with exponential backoff, while `read` simply
returns None and `health` says `reopening`. The service never crashes for a microphone.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from math import ceil
from typing import Any, Literal, Protocol

from edge.capture.backoff import Backoff
from edge.capture.rate import RateMeter
from edge.capture.resample import NS_PER_S, TARGET_RATE_HZ, Resampler
from edge.config.audio import AudioConfig
from edge.events.state_payloads import SourceHealth
from edge.types import AudioChunk, FloatArray

logger = logging.getLogger(__name__)

# PortAudio's timing of a block older than this is not believed (some host APIs report zeros).
_MAX_BLOCK_AGE_S = 1.0
# Stamps follow the sample count while it agrees with the callback's timing within this; a
# larger difference means lost audio (overflow, a stall) or a wrong clock, and re-anchors them.
_RESYNC_NS = 50_000_000
_JOIN_TIMEOUT_S = 5.0


class InputStreamLike(Protocol):
    """The part of `sounddevice.InputStream` the microphone uses."""

    @property
    def samplerate(self) -> float:
        """Rate the device actually opened at, Hz."""
        ...

    @property
    def active(self) -> bool:
        """False once the stream stopped (for example because the device went away)."""
        ...

    def start(self) -> None:
        """Starts the callbacks."""
        ...

    def close(self) -> None:
        """Stops (discarding pending audio) and releases the device."""
        ...


StreamFactory = Callable[..., InputStreamLike]
"""Called like `sounddevice.InputStream(device=, samplerate=, channels=, dtype=, blocksize=,
callback=, finished_callback=)`; tests pass a fake device here."""


class _TimeInfo(Protocol):
    # PortAudio's names.
    inputBufferAdcTime: float
    currentTime: float


class _Status(Protocol):
    input_overflow: bool


def _sounddevice_stream(**kwargs: Any) -> InputStreamLike:
    # Imported here: PortAudio is needed for a real microphone only, not for replays or tests.
    import sounddevice

    stream: InputStreamLike = sounddevice.InputStream(**kwargs)
    return stream


class MicrophoneSource:
    """A sounddevice input stream as an `AudioSource`: 16 kHz mono float32, never crashing."""

    def __init__(
        self,
        config: AudioConfig,
        *,
        name: str = "microphone",
        stream_factory: StreamFactory = _sounddevice_stream,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """Starts capturing in the background; `read` returns None until the device is open.

        Health says `reopening` until the first open succeeds (a kiosk may boot before its USB
        microphone is plugged in). `stream_factory` opens the device (a fake in tests);
        `clock_ns` (monotonic, nanoseconds) stamps the audio and times stalls.
        """
        self._config = config
        self._name = name
        self._factory = stream_factory
        self._clock_ns = clock_ns
        capacity = max(1, ceil(config.ring_buffer_s * 1000 / config.block_ms))
        self._ring: deque[tuple[FloatArray, int, int]] = deque(maxlen=capacity)
        self._has_audio = threading.Event()  # set by the callback
        self._wake = threading.Event()  # wakes the supervisor: stream finished or closing
        self._closing = threading.Event()
        self._state: Literal["ok", "reopening", "stopped"] = "reopening"
        self._dropped = 0
        self._stream_rate_hz = TARGET_RATE_HZ
        self._last_audio_ns = clock_ns()
        self._next_ts_ns: int | None = None
        self._last_ts_ns = -1
        self._resampler = Resampler(TARGET_RATE_HZ)
        self._rate = RateMeter()
        self._thread = threading.Thread(target=self._supervise, name=f"mic-{name}", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        """Always False: a microphone never finishes."""
        return False

    def read(self, timeout_s: float) -> AudioChunk | None:
        """The oldest captured chunk at 16 kHz, or None if none arrives within `timeout_s`."""
        deadline_s = time.monotonic() + timeout_s
        while not self._closing.is_set():
            try:
                samples, rate_hz, ts_ns = self._ring.popleft()
            except IndexError:
                self._has_audio.clear()
                remaining_s = deadline_s - time.monotonic()
                if not self._ring and (remaining_s <= 0 or not self._has_audio.wait(remaining_s)):
                    return None
                continue
            if rate_hz != self._resampler.in_rate_hz:
                self._resampler = Resampler(rate_hz)
            resampled = self._resampler(samples)
            if len(resampled):  # soxr holds back its first few milliseconds
                self._rate.tick(ts_ns)
                return AudioChunk(resampled, TARGET_RATE_HZ, ts_ns)
        return None

    def health(self) -> SourceHealth:
        """State, chunks per second delivered recently, and chunks lost to overflow."""
        rate_hz = self._rate.rate_hz(self._clock_ns()) if self._state == "ok" else 0.0
        return SourceHealth(
            name=self._name,
            kind="microphone",
            state=self._state,
            rate_hz=rate_hz,
            dropped_total=self._dropped,
        )

    def close(self) -> None:
        """Stops the supervisor, releases the device and drops any buffered audio."""
        self._closing.set()
        self._wake.set()
        self._has_audio.set()
        self._thread.join(_JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            logger.warning("Microphone %s did not stop within %.0f s", self._name, _JOIN_TIMEOUT_S)
        self._ring.clear()
        self._state = "stopped"

    def _on_audio(self, indata: FloatArray, frames: int, info: _TimeInfo, status: _Status) -> None:
        # PortAudio's thread: stamp, count and copy only; anything slow here loses audio.
        now_ns = self._clock_ns()
        self._last_audio_ns = now_ns
        rate_hz = self._stream_rate_hz
        if status.input_overflow:
            self._dropped += 1
        if len(self._ring) == self._ring.maxlen:
            self._dropped += 1  # the reader is behind: the oldest chunk is pushed out
        ts_ns = self._stamp(now_ns, frames, rate_hz, info.currentTime - info.inputBufferAdcTime)
        self._ring.append((indata[:, 0].copy(), rate_hz, ts_ns))
        self._has_audio.set()

    def _stamp(self, now_ns: int, frames: int, rate_hz: int, age_s: float) -> int:
        """Capture time of a block's first sample: callback jitter smoothed by the sample count."""
        if not 0.0 < age_s < _MAX_BLOCK_AGE_S:
            age_s = frames / rate_hz  # no usable timing: the block has just been completed
        measured_ns = now_ns - int(age_s * NS_PER_S)
        expected_ns = self._next_ts_ns
        if expected_ns is None or abs(measured_ns - expected_ns) > _RESYNC_NS:
            expected_ns = measured_ns
        ts_ns = max(expected_ns, self._last_ts_ns + 1)  # never backwards, even when re-anchored
        self._last_ts_ns = ts_ns
        self._next_ts_ns = ts_ns + frames * NS_PER_S // rate_hz
        return ts_ns

    def _supervise(self) -> None:
        backoff = Backoff(self._config.reopen_min_s, self._config.reopen_max_s)
        failures = 0
        while not self._closing.is_set():
            try:
                stream = self._open_stream()
            except Exception as exc:  # the retry loop's boundary: any device error is retried
                failures += 1
                log = logger.warning if failures == 1 else logger.debug
                log("Microphone %s cannot be opened (%s); retrying", self._name, exc)
                self._closing.wait(backoff.next_delay_s())
                continue
            logger.info("Microphone %s open at %d Hz", self._name, self._stream_rate_hz)
            failures = 0
            self._state = "ok"
            if self._watch(stream) >= self._config.reopen_max_s:
                backoff.reset()
            self._close_stream(stream)
            if not self._closing.is_set():
                self._state = "reopening"
                self._closing.wait(backoff.next_delay_s())
        self._state = "stopped"

    def _open_stream(self) -> InputStreamLike:
        try:
            return self._start_stream(TARGET_RATE_HZ)
        except Exception as exc:  # many devices refuse 16 kHz: fall back to their own rate
            logger.debug("Microphone %s refused %d Hz: %s", self._name, TARGET_RATE_HZ, exc)
        probe = self._factory(**self._stream_args(None, blocksize=0))
        rate_hz = int(probe.samplerate)
        probe.close()
        logger.info("Microphone %s resampled from %d Hz", self._name, rate_hz)
        return self._start_stream(rate_hz)

    def _start_stream(self, rate_hz: int) -> InputStreamLike:
        stream = self._factory(
            **self._stream_args(rate_hz, rate_hz * self._config.block_ms // 1000)
        )
        self._stream_rate_hz = int(stream.samplerate)
        self._last_audio_ns = self._clock_ns()
        self._next_ts_ns = None  # a new stream: anchor its stamps afresh
        try:
            stream.start()
        except Exception:
            self._close_stream(stream)
            raise
        return stream

    def _stream_args(self, rate_hz: int | None, blocksize: int) -> dict[str, Any]:
        return {
            "device": self._config.device,
            "samplerate": rate_hz,
            "channels": 1,
            "dtype": "float32",
            "blocksize": blocksize,
            "callback": self._on_audio,
            "finished_callback": self._wake.set,
        }

    def _watch(self, stream: InputStreamLike) -> float:
        """Waits until the stream is lost or closing; returns how long it worked, seconds."""
        opened_ns = self._clock_ns()
        stall_ns = int(self._config.stall_timeout_s * NS_PER_S)
        poll_s = min(0.5, self._config.stall_timeout_s / 4)
        while not self._closing.is_set():
            self._wake.wait(poll_s)
            self._wake.clear()
            if self._closing.is_set():
                break
            if not stream.active:
                reason = "the stream stopped"
            elif self._clock_ns() - self._last_audio_ns > stall_ns:
                reason = f"no audio for {self._config.stall_timeout_s:g} s"
            else:
                continue
            logger.warning("Microphone %s lost (%s); reopening", self._name, reason)
            break
        return (self._clock_ns() - opened_ns) / NS_PER_S

    def _close_stream(self, stream: InputStreamLike) -> None:
        try:
            stream.close()
        except Exception as exc:  # a vanished device may fail to close; it is gone either way
            logger.debug("Microphone %s close failed: %s", self._name, exc)
