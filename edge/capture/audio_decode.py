"""Decoders for recorded audio: libsndfile first, FFmpeg (through PyAV) for everything else.

libsndfile reads WAV, FLAC, OGG (Vorbis, Opus) and MP3 sample-exactly and is already loaded for
the microphone path; it cannot open video containers (FLV, MP4, MKV, WebM), whose audio track
FFmpeg decodes. Both decode block by block, so a long recording is never held in memory.
Blocks are float32 at the file's own rate, shape (frames, channels); the caller mixes down and
resamples, the same way for both.
"""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from edge.types import FloatArray

logger = logging.getLogger(__name__)


class AudioFileError(ValueError):
    """Neither libsndfile nor FFmpeg can read the file as audio."""


class AudioDecoder(Protocol):
    """Float32 blocks of a recording at its own rate and channel count."""

    rate_hz: int
    channels: int

    def read_block(self) -> FloatArray:
        """The next block, shape (frames, channels); zero frames at the end."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...


class SoundFileDecoder:
    """libsndfile, `block_s` seconds per block."""

    def __init__(self, path: Path, block_s: float) -> None:
        """Open `path`; raises `soundfile.LibsndfileError` when libsndfile cannot read it."""
        self._file = sf.SoundFile(str(path))
        self.rate_hz = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self._block_frames = max(1, int(np.ceil(self.rate_hz * block_s)))

    def read_block(self) -> FloatArray:
        """Up to `block_s` of audio; zero frames at the end."""
        return np.asarray(
            self._file.read(self._block_frames, dtype="float32", always_2d=True), np.float32
        )

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class ContainerDecoder:
    """The first audio track of any container FFmpeg knows, one decoded frame per block."""

    def __init__(self, path: Path) -> None:
        """Open `path`; raises `AudioFileError` without a decodable audio track."""
        try:
            import av  # only recordings libsndfile cannot read need FFmpeg
        except ImportError as exc:
            raise AudioFileError(
                f"{path}: not a libsndfile format, and PyAV is missing to try FFmpeg; "
                "install it with `pip install av`"
            ) from exc
        try:
            self._container: Any = av.open(str(path))
        except av.error.FFmpegError as exc:
            raise AudioFileError(
                f"{path}: neither libsndfile nor FFmpeg reads it as audio ({exc})"
            ) from exc
        if not self._container.streams.audio:
            self._container.close()
            raise AudioFileError(f"{path}: the file has no audio track")
        stream = self._container.streams.audio[0]
        self.rate_hz = int(stream.codec_context.sample_rate)
        self.channels = int(stream.codec_context.layout.nb_channels)
        # Planar float whatever the codec delivers (s16, fltp, ...): one row per channel.
        self._to_float = av.AudioResampler(format="fltp")
        self._frames: Iterator[Any] = self._container.decode(stream)
        self._pending: list[FloatArray] = []

    def read_block(self) -> FloatArray:
        """The next decoded frame's samples (about 20-30 ms); zero frames at the end."""
        while not self._pending:
            frame = next(self._frames, None)
            converted = self._to_float.resample(frame)  # None flushes the converter
            self._pending = [np.asarray(f.to_ndarray(), np.float32).T for f in converted]
            if frame is None:
                break
        if not self._pending:
            return np.zeros((0, self.channels), dtype=np.float32)
        return self._pending.pop(0)

    def close(self) -> None:
        """Close the container."""
        self._container.close()


def open_decoder(path: Path, block_s: float) -> AudioDecoder:
    """libsndfile for the formats it reads, else FFmpeg; `AudioFileError` when neither can."""
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        return SoundFileDecoder(path, block_s)
    except sf.LibsndfileError as sndfile_error:
        logger.debug("libsndfile cannot read %s (%s); trying FFmpeg", path.name, sndfile_error)
    return ContainerDecoder(path)
