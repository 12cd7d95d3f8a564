"""Drive the stages from sources: recordings as fast as possible, or live devices.

Audio chunks and video frames are merged in capture-time order; the consent gate sees every
item first; the engine steps once per frame (or per audio chunk without a camera) with the
voice readings completed since. Replay and live share every stage; only the loop differs.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol, TypeVar

from edge.capture.base import AudioSource, VideoSource
from edge.events.state_payloads import FaceQualityHealth
from edge.mood.engine import MoodEngine
from edge.pipeline.face_path import FacePath
from edge.pipeline.meter import PipelineMeter
from edge.pipeline.publishing import OutputPublisher
from edge.pipeline.voice_path import VoicePath
from edge.types import AudioChunk, FaceReading, VideoFrame, VoiceReading

logger = logging.getLogger(__name__)

_NS = 1_000_000_000
_LIVE_POLL_S = 0.05


@dataclass(slots=True)
class Sources:
    """What feeds the pipeline; either may be absent."""

    video: VideoSource | None
    audio: AudioSource | None


ItemT = TypeVar("ItemT", covariant=True)


class _Recording(Protocol[ItemT]):
    @property
    def finished(self) -> bool: ...

    def read(self, timeout_s: float) -> ItemT | None: ...


def _next(source: _Recording[ItemT] | None) -> ItemT | None:
    """The next item of a recording; waits while a real-time replay paces itself."""
    while source is not None and not source.finished:
        item = source.read(_LIVE_POLL_S)
        if item is not None:
            return item
    return None


def _end_ns(chunk: AudioChunk) -> int:
    """When the chunk's last sample was captured (its latency counts from there)."""
    return chunk.ts_mono_ns + int(chunk.duration_s * _NS)


class PipelineRunner:
    """Owns the loop; stages and publishing are injected."""

    def __init__(
        self,
        engine: MoodEngine,
        publisher: OutputPublisher,
        face: FacePath | None,
        voice: VoicePath | None,
        lock: "threading.RLock | None" = None,
    ) -> None:
        self.engine, self._publisher = engine, publisher
        # Actions from screens and commands change the engine from other threads.
        self._lock = lock or threading.RLock()
        self._face, self._voice = face, voice
        self._voices: list[VoiceReading] = []
        self.last_ts_s = 0.0
        self.iterations = 0
        """Live loop turns: the watchdog's proof that the pipeline is not stuck."""
        self.meter = PipelineMeter(faces=self.face_quality)
        """Live throughput and capture-to-done latency, for health."""
        for stage in (face, voice):
            if stage is not None:
                engine.gate.register(stage)

    def face_quality(self) -> FaceQualityHealth | None:
        """The face quality gate's decisions since start; None without a face path."""
        return self._face.quality_health() if self._face is not None else None

    def on_audio(self, chunk: AudioChunk, step: bool) -> None:
        """Gate, then VAD and voice scoring; `step` the engine when there is no camera."""
        admitted = self.engine.gate.admit_audio(chunk)
        if admitted is not None and self._voice is not None:
            self._voices += self._voice.process(admitted)
        self.last_ts_s = chunk.ts_mono_ns / _NS + chunk.duration_s
        if step:
            self._step(self.last_ts_s, [])

    def on_frame(self, frame: VideoFrame) -> None:
        """Gate, then the face path, then one engine step with pending voice readings."""
        admitted = self.engine.gate.admit_frame(frame)
        faces = self._face.process(admitted) if admitted is not None and self._face else []
        self.last_ts_s = frame.ts_mono_ns / _NS
        self._step(self.last_ts_s, faces)

    def _step(self, now_s: float, faces: list[FaceReading]) -> None:
        voices, self._voices = self._voices, []
        with self._lock:
            self._publisher.publish(self.engine.step(now_s, faces, voices))

    def finish(self) -> None:
        """End the interaction in progress (recording over, or the service stopping)."""
        with self._lock:
            self._publisher.publish(self.engine.finish(self.last_ts_s))

    def run_recordings(self, sources: Sources) -> None:
        """Replay both recordings to their end in capture-time order, then end the interaction."""
        audio, video = sources.audio, sources.video
        chunk, frame = _next(audio), _next(video)
        while chunk is not None or frame is not None:
            if chunk is not None and (frame is None or chunk.ts_mono_ns <= frame.ts_mono_ns):
                self.on_audio(chunk, step=video is None)
                chunk = _next(audio)
            elif frame is not None:
                self.on_frame(frame)
                frame = _next(video)
        if self._voice is not None:
            self._voices += self._voice.flush()
            if self._voices:
                self._step(self.last_ts_s, [])
        self.finish()

    def run_live(self, sources: Sources, stop: threading.Event) -> None:
        """Poll live sources until `stop`; sources recover from unplugging by themselves."""
        while not stop.is_set():
            self.iterations += 1
            while sources.audio is not None:
                chunk = sources.audio.read(0)
                if chunk is None:
                    break
                self.on_audio(chunk, step=sources.video is None)
                if sources.video is None:
                    self.meter.done(_end_ns(chunk), time.monotonic_ns())
            frame = sources.video.read(_LIVE_POLL_S) if sources.video else None
            if frame is not None:
                self.on_frame(frame)
                self.meter.done(frame.ts_mono_ns, time.monotonic_ns())
            elif sources.video is None and sources.audio is None:
                stop.wait(_LIVE_POLL_S)
        self.finish()
