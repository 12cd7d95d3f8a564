"""Cost of voice activity detection per second of audio, on real recordings.

Usage: python bench/voice_vad.py [--clips N] [--rounds R] [--json]

The first N RAVDESS and N nEMO clips (16 kHz, read in place from $MOODSENSE_DATA) are joined
into one stream and held in memory, then fed to the VAD in 100 ms chunks as a live microphone
would deliver them. Each second of audio (ten chunks) is timed with perf_counter; the median and
95th percentile over all seconds and rounds are reported, with CPU time per second of audio and
the real-time factor (processing time / audio time). The 48 kHz -> 16 kHz resampling that a
microphone without 16 kHz support adds is timed the same way.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.capture.resample import Resampler
from edge.config.audio import VadConfig
from edge.types import AudioChunk, FloatArray
from edge.voice.vad import VoiceActivityDetector
from tests.data_paths import DATA

RATE_HZ = 16000
CHUNK = 1600


def load_stream(clips: int) -> FloatArray:
    """The first `clips` RAVDESS and nEMO recordings, joined."""
    paths = sorted((DATA / "speech" / "ravdess").glob("Actor_*/*.flac"))[:clips]
    paths += sorted((DATA / "speech" / "nemo" / "samples").glob("*.ogg"))[:clips]
    if not paths:
        raise SystemExit(f"no recordings under {DATA / 'speech'} (set MOODSENSE_DATA)")
    parts = []
    for path in paths:
        samples, rate_hz = sf.read(path, dtype="float32")
        if rate_hz != RATE_HZ:
            raise SystemExit(f"{path}: {rate_hz} Hz, expected {RATE_HZ}")
        parts.append(samples if samples.ndim == 1 else samples.mean(axis=1))
    return np.concatenate(parts).astype(np.float32)


def time_seconds(
    stream: FloatArray, step: Callable[[FloatArray, int], None]
) -> tuple[list[float], float]:
    """Wall ms per second of audio, and total CPU seconds, for one pass of `step`."""
    per_second_ms = []
    cpu_start = time.process_time()
    for start in range(0, len(stream) - RATE_HZ + 1, RATE_HZ):
        began = time.perf_counter()
        for offset in range(start, start + RATE_HZ, CHUNK):
            step(stream[offset : offset + CHUNK], offset)
        per_second_ms.append((time.perf_counter() - began) * 1000)
    return per_second_ms, time.process_time() - cpu_start


class VadStep:
    """The VAD with its default config."""

    def __init__(self) -> None:
        self.vad = VoiceActivityDetector(VadConfig())
        self.speech_windows = 0

    def __call__(self, samples: FloatArray, offset: int) -> None:
        """Feeds one chunk and counts the speech windows it completes."""
        chunk = AudioChunk(samples, RATE_HZ, offset * 62_500)
        self.speech_windows += sum(w.speech for w in self.vad.process(chunk))


class ResampleStep:
    """48 kHz -> 16 kHz streaming resampling (the input is the 16 kHz audio, 3x repeated)."""

    def __init__(self) -> None:
        self.resample = Resampler(48000)

    def __call__(self, samples: FloatArray, offset: int) -> None:
        """Resamples the 48 kHz block that spans this chunk's time."""
        self.resample(np.repeat(samples, 3))


def summarise(per_second_ms: list[float], cpu_s: float, seconds: int) -> dict[str, float]:
    """Median and p95 wall ms, CPU ms per second of audio, real-time factor."""
    ordered = sorted(per_second_ms)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "cpu_ms_per_s": round(cpu_s * 1000 / seconds, 3),
        "rtf": round(statistics.median(ordered) / 1000, 5),
    }


def main() -> None:
    """Parse arguments, run, print a table or one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=30, help="clips per corpus")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    stream = load_stream(args.clips)
    seconds = len(stream) // RATE_HZ
    stages: dict[str, dict[str, float]] = {}
    speech_windows = 0
    steps: tuple[tuple[str, Callable[[], VadStep | ResampleStep]], ...] = (
        ("vad", VadStep),
        ("resample_48k", ResampleStep),
    )
    for name, make in steps:
        timings: list[float] = []
        cpu_total_s = 0.0
        for _ in range(args.rounds):
            step = make()
            per_second_ms, cpu_s = time_seconds(stream, step)
            timings += per_second_ms
            cpu_total_s += cpu_s
        stages[name] = summarise(timings, cpu_total_s, seconds * args.rounds)
        if isinstance(step, VadStep):
            speech_windows = step.speech_windows
    result = {
        "audio_s": seconds,
        "rounds": args.rounds,
        "speech_windows_per_round": speech_windows,
        "per_second_of_audio": stages,
        "machine": platform.machine(),
        "python": sys.version[:6],
    }
    if args.json:
        print(json.dumps(result))
        return
    for name, values in stages.items():
        print(
            f"{name:13s} median {values['median_ms']:6.3f} ms  p95 {values['p95_ms']:6.3f} ms"
            f"  cpu {values['cpu_ms_per_s']:6.3f} ms per second of audio"
        )


if __name__ == "__main__":
    main()
