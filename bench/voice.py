"""Voice path cost per second of audio: features + inference, on real recordings.

Usage: python bench/voice.py [--clips N] [--models-dir DIR] [--json]

Real RAVDESS and nEMO clips (read in place) are scored the way the live pipeline scores
speech: one 2.5 s window (`edge.voice.features.extract_windows`) and one model run per VAD
hop. Reported per second of audio: median and p95 milliseconds of features + inference, the
real-time factor, CPU time, and peak RSS of the process. Target on this machine: <= 5 ms per
second of audio.
"""

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.config.audio import VadConfig
from edge.inference.registry import DEFAULT_MODELS_DIR, ModelRegistry
from edge.native_threads import limit_native_threads
from edge.voice.emotion import VoiceEmotionModel
from edge.voice.features import SAMPLE_RATE
from tests.data_paths import DATA


def windows_of(paths: list[Path], window_s: float) -> list[np.ndarray]:
    """Every full analysis window of the clips (no padding: what speech windows look like)."""
    size = int(window_s * SAMPLE_RATE)
    windows = []
    for path in paths:
        audio, _rate = sf.read(path, dtype="float32")
        windows += [audio[i : i + size] for i in range(0, len(audio) - size + 1, size)]
    return windows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    limit_native_threads()  # as the service does
    spec, model = ModelRegistry(args.models_dir).open("voice_emotion")
    scorer = VoiceEmotionModel(spec, model)
    vad = VadConfig()
    paths = sorted((DATA / "speech" / "ravdess").glob("Actor_2*/*.flac"))[: args.clips]
    paths += sorted((DATA / "speech" / "nemo" / "samples").glob("IC0_*.ogg"))[: args.clips]
    windows = windows_of(paths, vad.window_ms / 1000)
    scorer.score(windows[0])  # warm-up: numba, interpreter, caches
    hop_s = vad.hop_ms / 1000
    per_second_ms, cpu_start, wall_start = [], time.process_time(), time.perf_counter()
    for window in windows:
        started = time.perf_counter()
        scorer.score(window)
        # One window is scored per hop, so this is the cost of `hop_s` seconds of speech.
        per_second_ms.append((time.perf_counter() - started) * 1000 / hop_s)
    audio_s = len(windows) * hop_s
    cpu_ms_per_s = (time.process_time() - cpu_start) * 1000 / audio_s
    result = {
        "windows": len(windows),
        "audio_seconds": round(audio_s, 1),
        "ms_per_audio_second_median": round(statistics.median(per_second_ms), 2),
        "ms_per_audio_second_p95": round(float(np.percentile(per_second_ms, 95)), 2),
        "cpu_ms_per_audio_second": round(cpu_ms_per_s, 2),
        "real_time_factor": round((time.perf_counter() - wall_start) / audio_s, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model_sha256": spec.sha256,
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
