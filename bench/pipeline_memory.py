"""Where the pipeline's memory goes: RSS after each import and each built stage, then a replay.

Usage: python bench/pipeline_memory.py --video V --audio A [--seconds 10] [--config C]
       [--detector mediapipe|tflite] [--maps 12] [--json]

Builds the pipeline in the order `moodsense replay` does (service, sources, face path, voice
path, start), printing the resident set size (`VmRSS` from /proc/self/status), its change, the
anonymous/file-backed split and the thread count after each step; then replays `--seconds` of
the recordings as fast as they decode and prints the peak (`VmHWM`, this process's own high-water
mark: `ru_maxrss` is not, see docs/benchmarks.md) and the largest mappings grouped by file
(what `pmap`/`smem` would show). Run with PYTHONTRACEMALLOC=1 to also see the Python heap.
"""

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_STATUS_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads")
_steps: list[dict[str, Any]] = []


def status() -> dict[str, float]:
    """Memory fields of /proc/self/status in MB (threads as a count)."""
    values: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            key, _sep, rest = line.partition(":")
            if key in _STATUS_KEYS:
                number = float(rest.split()[0])
                values[key] = number if key == "Threads" else round(number / 1024, 1)
    return values


def step(name: str) -> None:
    """Record and print the memory after `name`."""
    now = status()
    before = _steps[-1]["VmRSS"] if _steps else 0.0
    _steps.append({"step": name, **now, "delta": round(now["VmRSS"] - before, 1)})
    print(
        f"{name:<44} rss {now['VmRSS']:7.1f} MB ({now['VmRSS'] - before:+7.1f})"
        f"  anon {now['RssAnon']:6.1f}  file {now['RssFile']:6.1f}  threads {now['Threads']:.0f}",
        file=sys.stderr,
        flush=True,
    )


def mappings(top: int) -> list[tuple[str, float]]:
    """Resident MB per mapped file (anonymous mappings as [anon]), largest first."""
    sizes: Counter[str] = Counter()
    name = "[anon]"
    with open("/proc/self/smaps", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
                name = fields[5] if len(fields) > 5 else "[anon]"
                name = name.split("site-packages/")[-1]
            elif fields[0] == "Rss:":
                sizes[name] += int(fields[1]) / 1024
    return [(n, round(mb, 1)) for n, mb in sizes.most_common(top)]


def _measured(function: Callable[..., Any], label: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        step(label)
        return result

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--audio", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=10.0, help="replayed after building")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--detector", choices=["mediapipe", "tflite"])
    parser.add_argument("--maps", type=int, default=12, help="largest mappings to list")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    step("python interpreter")
    import numpy  # noqa: F401

    step("import numpy")
    import cv2  # noqa: F401

    step("import cv2 (OpenCV)")
    from edge.app import EdgeService
    from edge.config import load_config, load_secrets, resolve_state_dir

    step("import edge.app (pydantic, paho, sqlite)")
    import edge.pipeline.build as build
    from edge.capture.audio_file import AudioFileSource
    from edge.capture.video_file import VideoFileSource
    from edge.native_threads import limit_native_threads
    from edge.voice.warmup import use_state_caches

    step("import pipeline, capture, ai_edge_litert")
    build.build_face_path = _measured(build.build_face_path, "face path built")
    build.build_voice_path = _measured(build.build_voice_path, "voice path built (+ warm-up)")
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(args.config)
        if args.config is None:
            config = config.model_copy(update={"state_dir": Path(tmp)})
        if args.detector:
            face = config.face.model_copy(update={"detector_backend": args.detector})
            config = config.model_copy(update={"face": face})
        use_state_caches(resolve_state_dir(config))
        limit_native_threads()
        service = EdgeService(config, load_secrets(config))
        step("EdgeService (models verified, outbox)")
        video = VideoFileSource(args.video)
        audio = AudioFileSource(args.audio)
        step("sources opened")
        pipeline = build.build_pipeline(config, service, face=True, voice=True)
        service.start()
        step("service started (publisher thread)")
        pipeline.publisher.publish(pipeline.runner.engine.grant("kiosk", 0.0))
        stop_ns = round(args.seconds * 1e9)
        started = time.monotonic()
        frames = 0
        while (frame := video.read(0.05)) is not None and frame.ts_mono_ns < stop_ns:
            while (chunk := audio.read(0.05)) is not None:
                pipeline.runner.on_audio(chunk, step=False)
                if chunk.ts_mono_ns >= frame.ts_mono_ns:
                    break
            pipeline.runner.on_frame(frame)
            frames += 1
        pipeline.runner.finish()
        step(f"replayed {frames} frames ({time.monotonic() - started:.1f} s)")
        top = mappings(args.maps)
        service.shutdown()
    peak = status()["VmHWM"]
    print(f"peak RSS (VmHWM) {peak} MB", file=sys.stderr)
    if tracemalloc.is_tracing():  # PYTHONTRACEMALLOC=1: how much of it is Python objects
        current, python_peak = (round(b / 2**20, 1) for b in tracemalloc.get_traced_memory())
        print(f"Python heap (tracemalloc) {current} MB, peak {python_peak} MB", file=sys.stderr)
    for name, mb in top:
        print(f"  {mb:7.1f} MB  {name}", file=sys.stderr)
    if args.json:
        print(json.dumps({"steps": _steps, "peak_rss_mb": peak, "mappings": top}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
