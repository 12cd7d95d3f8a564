"""Per-frame cost of the face front end: detection + quality gate (+ landmarks) on 640x480.

`bench/face.py` adds the expression model to the same loop (`run(..., expression=...)`).

Usage: python bench/face_detect.py [--frames N] [--source crema|fer] [--backend mediapipe|tflite]
                                   [--landmarks] [--json]

Frames hold one real face: a CREMA-D video frame (480x360, pasted onto a 640x480 canvas) or
a FER2013 test face upscaled to 240 px. Each stage is timed per frame with perf_counter after
a warm-up; CPU time per frame is reported too, which shows whether a library used more than
one thread. Peak RSS is the process maximum (ru_maxrss). Frames stay in memory.
"""

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.capture.video_file import VideoFileSource
from edge.config.camera import FaceConfig
from edge.face.detector import create_detector
from edge.face.expression import FaceExpressionModel
from edge.face.landmarks import FaceLandmarker
from edge.face.quality import QualityGate
from edge.types import ImageArray, VideoFrame
from tests.data_paths import DATA

WARMUP = 20


def crema_frames() -> list[ImageArray]:
    """Every frame of one CREMA-D clip, centred on a 640x480 canvas."""
    source = VideoFileSource(DATA / "av" / "crema-d" / "1001_DFA_HAP_XX.flv")
    frames = []
    while (frame := source.read(0.0)) is not None:
        canvas = np.full((480, 640, 3), 128, np.uint8)
        h, w = frame.image.shape[:2]
        canvas[(480 - h) // 2 : (480 - h) // 2 + h, (640 - w) // 2 : (640 - w) // 2 + w] = (
            frame.image
        )
        frames.append(canvas)
    return frames


def fer_frames(count: int = 50) -> list[ImageArray]:
    """FER2013 happy test faces upscaled to 240 px on a 640x480 canvas."""
    paths = sorted((DATA / "face" / "fer2013" / "test" / "happy").glob("*.png"))[:count]
    frames = []
    for path in paths:
        face = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (240, 240))
        canvas = np.full((480, 640, 3), 128, np.uint8)
        canvas[120:360, 200:440] = face[:, :, None]
        frames.append(canvas)
    return frames


def stats_ms(samples_s: list[float]) -> dict[str, float]:
    """Median and 95th percentile in milliseconds."""
    ordered = sorted(samples_s)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"median_ms": statistics.median(ordered) * 1e3, "p95_ms": p95 * 1e3}


def run(
    images: list[ImageArray],
    frames: int,
    backend: str,
    landmarks: bool,
    expression: FaceExpressionModel | None = None,
) -> dict[str, object]:
    """Time detection, quality (landmarks, expression) over `frames` frames cycling `images`.

    As in the device's face path, expression is scored only on a face that passes the gate.
    """
    config = FaceConfig(detector_backend=backend)
    detector, gate = create_detector(config), QualityGate(config)
    landmarker = FaceLandmarker() if landmarks else None
    stages = ["detect", "quality"] + ["landmarks"] * landmarks + ["expression"] * bool(expression)
    timings: dict[str, list[float]] = {name: [] for name in [*stages, "total"]}
    found = 0
    cpu_start = 0.0
    for i in range(frames + WARMUP):
        if i == WARMUP:
            gate.reset()
            cpu_start = time.process_time()
        frame = VideoFrame(images[i % len(images)], ts_mono_ns=i, index=i)
        t0 = time.perf_counter()
        boxes = detector.process(frame)
        t1 = time.perf_counter()
        geometry = landmarker.process(frame, boxes[0]) if landmarker and boxes else None
        t2 = time.perf_counter()
        passed = bool(boxes) and gate.process(frame, boxes[0], geometry).passed
        t3 = time.perf_counter()
        if expression is not None and passed:
            expression.process(frame, boxes[0], geometry.roll_deg if geometry else 0.0)
        t4 = time.perf_counter()
        if i >= WARMUP:
            found += bool(boxes)
            steps = {"detect": t1 - t0, "landmarks": t2 - t1, "quality": t3 - t2}
            steps |= {"expression": t4 - t3} if passed else {}
            for name in stages:
                if name in steps:  # expression: only frames that were scored
                    timings[name].append(steps[name])
            timings["total"].append(t4 - t0)
    cpu_ms = (time.process_time() - cpu_start) / frames * 1e3
    return {
        "frames": frames,
        "faces_found_rate": found / frames,
        "passed_quality": gate.passed_total,
        "stages": {name: stats_ms(values) for name, values in timings.items() if values},
        "cpu_ms_per_frame": cpu_ms,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    """Parse arguments, run, print a table or one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--source", choices=("crema", "fer"), default="crema")
    parser.add_argument("--backend", choices=("mediapipe", "tflite"), default="mediapipe")
    parser.add_argument("--landmarks", action="store_true", help="also run Face Mesh")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    images = crema_frames() if args.source == "crema" else fer_frames()
    result = run(images, args.frames, args.backend, args.landmarks)
    result |= {
        "source": args.source,
        "backend": args.backend,
        "machine": platform.machine(),
        "python": sys.version[:6],
    }
    if args.json:
        print(json.dumps(result))
        return
    for name, values in result["stages"].items():  # type: ignore[attr-defined]
        print(f"{name:10s} median {values['median_ms']:6.2f} ms   p95 {values['p95_ms']:6.2f} ms")
    print(f"cpu {result['cpu_ms_per_frame']:.2f} ms/frame, peak RSS {result['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
