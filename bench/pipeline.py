"""The whole pipeline in real time: CPU share, memory, latency, and time to the first event.

Usage: python bench/pipeline.py [--seconds 66] [--json]

A scripted scenario (real FER2013 faces and RAVDESS test-actor speech, tests/scenario.py) of
640x480 frames at 15 fps with 16 kHz audio is written once, then played in real time into the
live service (`LiveService.run`, what `moodsense run` runs: the same loop thread, publisher,
health and command handling) in a fresh process, with consent granted, publishing into the
outbox (no broker, so the network does not count). The recordings stand in for the camera and
microphone: they are paced like live devices and read by the live loop.

Reported from that process: CPU time (all threads) as a share of one core, peak RSS (`VmHWM` of
/proc/self/status: `ru_maxrss` would report this parent's peak, because Linux carries it across
fork and exec), latency from a frame's capture time to the end of its engine step and
publication (median, p95), and the time from process start to the first mood event, once with
an empty library cache directory (cold) and once with it filled (warm).
Targets on this machine: <= 35 % of one core, <= 300 MB RSS, p95 latency <= 300 ms.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]


STARTED = time.monotonic()  # process start, for the time to the first event


def peak_rss_mb() -> float:
    """This process's own peak resident set size (VmHWM), MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024, 1)


def run_once(workdir: Path, video: Path, audio: Path) -> dict[str, float]:
    """Play the recordings in real time into the live service in this process, measure it."""
    from edge.capture.audio_file import AudioFileSource
    from edge.capture.video_file import VideoFileSource
    from edge.config import EdgeConfig, load_secrets
    from edge.native_threads import limit_native_threads
    from edge.pipeline.live import LiveService
    from edge.pipeline.runner import Sources
    from edge.voice.warmup import use_state_caches

    limit_native_threads()  # as `moodsense run` does before building
    config = EdgeConfig(state_dir=workdir / "state")
    use_state_caches(config.state_dir)
    live = LiveService(config, load_secrets(config))
    pipeline = live.pipeline
    first_mood: list[float] = []
    pipeline.publisher.add_listener(
        lambda leaf, _p: first_mood.append(time.monotonic()) if leaf.value == "mood" else None
    )
    pipeline.publisher.publish(pipeline.runner.engine.grant("kiosk", time.monotonic()))
    latencies = _instrument(pipeline.runner)
    origin_ns = time.monotonic_ns()
    sources = Sources(
        video=VideoFileSource(video, realtime=True, start_ns=origin_ns),
        audio=AudioFileSource(audio, realtime=True, start_ts_mono_ns=origin_ns),
    )
    stop = threading.Event()
    threading.Thread(target=_stop_when_played, args=(sources, stop), daemon=True).start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    live.run(stop, sources)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return {
        "cpu_share_of_one_core": round(cpu / wall, 3),
        "peak_rss_mb": peak_rss_mb(),
        "latency_ms_median": round(statistics.median(latencies), 1),
        "latency_ms_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        "frames": len(latencies),
        "seconds_to_first_mood_event": round(first_mood[0] - STARTED, 2) if first_mood else -1,
        "replayed_seconds": round(wall, 1),
    }


def _stop_when_played(sources: object, stop: threading.Event) -> None:
    """Stop the service once both recordings are played out (a live device never ends)."""
    while not all(s.finished for s in (sources.video, sources.audio)):  # type: ignore[attr-defined]
        stop.wait(0.1)
    stop.set()


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
    # The library caches (numba, matplotlib) go here: empty for the cold run, kept for the warm.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache / "numba"), "MPLCONFIGDIR": str(cache)}
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
    result["peak_rss_mb_cold"] = cold["peak_rss_mb"]
    result["seconds_to_first_mood_event_warm"] = result.pop("seconds_to_first_mood_event")
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>36}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
