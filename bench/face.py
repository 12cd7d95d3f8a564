"""Per-frame cost of the face path as the device runs it: detection + Face Mesh + quality +
expression, 640x480.

Usage: python bench/face.py [--frames N] [--source crema|fer] [--backend mediapipe|tflite]
                            [--model face_expression|fer_minixception] [--no-landmarks]
                            [--models-dir DIR] [--json]

The frames, the detector, the quality gate and the timing loop are those of
`bench/face_detect.py`; this adds the expression model on the detector's crop, one thread.
Face Mesh runs as on the device (head pose for the gate, the eye line's roll to level the
crop); `--no-landmarks` leaves it out to time the rest alone.
Without `--model`, our model and the `fer` package's mini-XCEPTION (`bench/baselines/fer`)
each run in a child process of their own, so each peak RSS (ru_maxrss) is that model's alone,
and `--json` prints one line holding both. `--models-dir` takes our model from another folder
with a manifest (an earlier release, to time both in the same run).
"""

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import face_detect  # bench/ is on sys.path; it puts the repo root there too

from edge.config.camera import FaceConfig
from edge.face.expression import FaceExpressionModel
from edge.inference.registry import DEFAULT_MODELS_DIR, ModelRegistry

# Model name -> folder whose manifest lists it; both run behind the device's own detector.
MODELS = {
    "face_expression": DEFAULT_MODELS_DIR,
    "fer_minixception": Path(__file__).resolve().parent / "baselines" / "fer",
}


def bench_model(name: str, args: argparse.Namespace) -> dict[str, object]:
    """Time detection + quality (+ landmarks) + expression with model `name` in this process."""
    images = face_detect.crema_frames() if args.source == "crema" else face_detect.fer_frames()
    folder = args.models_dir if name == "face_expression" else MODELS[name]
    spec, model = ModelRegistry(folder).open(name, num_threads=1)
    expression = FaceExpressionModel(spec, model)
    result = face_detect.run(
        images, args.frames, args.backend, landmarks=args.landmarks, expression=expression
    )
    return result | {"model": name, "model_sha256": spec.sha256, "input_shape": spec.input_shape}


def bench_in_child(name: str, args: argparse.Namespace) -> dict[str, object]:
    """Run `bench_model` in a fresh interpreter so its peak RSS is not shared with the other."""
    command = [sys.executable, __file__, "--model", name, "--json"]
    command += ["--frames", str(args.frames), "--source", args.source, "--backend", args.backend]
    command += ["--landmarks" if args.landmarks else "--no-landmarks"]
    command += ["--models-dir", str(args.models_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def print_table(results: list[dict[str, object]]) -> None:
    """Human-readable medians and p95 per stage, per model."""
    for result in results:
        print(f"{result['model']} (peak RSS {result['peak_rss_mb']:.0f} MB)")
        for name, values in result["stages"].items():  # type: ignore[attr-defined]
            print(
                f"  {name:10s} median {values['median_ms']:6.2f} ms  p95 {values['p95_ms']:6.2f} ms"
            )
        print(f"  cpu {result['cpu_ms_per_frame']:.2f} ms/frame, scored {result['passed_quality']}")


def main() -> None:
    """Parse arguments, run one model or both (in children), print a table or one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--source", choices=("crema", "fer"), default="crema")
    parser.add_argument(
        "--backend", choices=("mediapipe", "tflite"), default=FaceConfig().detector_backend
    )
    parser.add_argument("--model", choices=sorted(MODELS), help="only this model, in-process")
    parser.add_argument(
        "--landmarks",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run Face Mesh, as the device does (default: yes)",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=DEFAULT_MODELS_DIR,
        help="folder whose manifest lists face_expression (e.g. a copy with an earlier release)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.model:
        results = [bench_model(args.model, args)]
    else:
        results = [bench_in_child(name, args) for name in MODELS]
    context = {"source": args.source, "backend": args.backend, "machine": platform.machine()}
    context["landmarks"] = args.landmarks
    if args.json:
        by_model = {str(result["model"]): result for result in results}
        print(json.dumps(by_model[args.model] | context if args.model else by_model | context))
        return
    print_table(results)


if __name__ == "__main__":
    main()
