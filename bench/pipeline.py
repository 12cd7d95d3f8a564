"""The whole pipeline in real time: CPU share, memory, latency, and time to the first event.

Usage: python bench/pipeline.py [--seconds 66] [--json]

A scripted scenario (real FER2013 faces and RAVDESS test-actor speech, tests/scenario.py) of
640x480 frames at 15 fps with 16 kHz audio is replayed in real time through every stage, with
consent granted, publishing into the outbox (no broker, so the network does not count).
Reported: CPU time as a share of one core, peak RSS, latency from a frame's capture time to
the end of its engine step and publication (median, p95), and the time from process start to
the first mood event, once with an empty numba cache (cold) and once with it filled (warm).
Targets on this machine: <= 35 % of one core, <= 300 MB RSS, p95 latency <= 300 ms.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]


STARTED = time.monotonic()  # process start, for the time to the first event


def run_once(workdir: Path, video: Path, audio: Path) -> dict[str, float]:
    """Replay the recordings in real time in this process and measure it."""
    from edge.app import EdgeService
    from edge.capture.audio_file import AudioFileSource
    from edge.capture.video_file import VideoFileSource
    from edge.config import EdgeConfig, load_secrets
    from edge.native_threads import limit_native_threads
    from edge.pipeline.build import build_pipeline
    from edge.pipeline.runner import Sources

    limit_native_threads()
    config = EdgeConfig(state_dir=workdir / "state")
    service = EdgeService(config, load_secrets(config))
    pipeline = build_pipeline(config, service, face=True, voice=True)
    first_mood: list[float] = []
    pipeline.publisher.add_listener(
        lambda leaf, _p: first_mood.append(time.monotonic()) if leaf.value == "mood" else None
    )
    service.start()
    pipeline.publisher.publish(pipeline.runner.engine.grant("kiosk", time.monotonic()))
    latencies = _instrument(pipeline.runner)
    origin_ns = time.monotonic_ns()
    sources = Sources(
        video=VideoFileSource(video, realtime=True, start_ns=origin_ns),
        audio=AudioFileSource(audio, realtime=True, start_ts_mono_ns=origin_ns),
    )
    cpu0, wall0 = time.process_time(), time.monotonic()
    pipeline.runner.run_recordings(sources)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    service.shutdown()
    return {
        "cpu_share_of_one_core": round(cpu / wall, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "latency_ms_median": round(statistics.median(latencies), 1),
        "latency_ms_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        "frames": len(latencies),
        "seconds_to_first_mood_event": round(first_mood[0] - STARTED, 2) if first_mood else -1,
        "replayed_seconds": round(wall, 1),
    }


def _instrument(runner: object) -> list[float]:
    """Wrap the runner's frame handler to record capture -> published latency."""
    latencies: list[float] = []
    original = runner.on_frame  # type: ignore[attr-defined]

    def on_frame(frame: object) -> None:
        original(frame)
        latencies.append((time.monotonic_ns() - frame.ts_mono_ns) / 1e6)  # type: ignore[attr-defined]

    runner.on_frame = on_frame  # type: ignore[attr-defined]
    return latencies


def _child(video: Path, audio: Path, cache: Path) -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--video", str(video), "--audio", str(audio)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=66.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--video", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--audio", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_once(Path(tmp), args.video, args.audio)))
        return 0
    from edge.inference.registry import ModelRegistry
    from tests.scenario import build_scenario

    seconds = args.seconds
    script = (("neutral", seconds * 0.25), ("angry", seconds * 0.45), ("happy", seconds * 0.3))
    with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as cache:
        scenario = build_scenario(Path(work), ModelRegistry(), script)
        cold = _child(scenario.video, scenario.audio, Path(cache))
        warm = _child(scenario.video, scenario.audio, Path(cache))
    result = {**warm, "seconds_to_first_mood_event_cold": cold["seconds_to_first_mood_event"]}
    result["seconds_to_first_mood_event_warm"] = result.pop("seconds_to_first_mood_event")
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>36}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
