"""How BlazeFace frames a face compared with FER2013's crops, and what the framing costs.

Usage: python bench/face_framing.py [--faces N] [--model face_expression|fer_minixception]
       [--roll DEG] [--json]

1. Geometry, no labels: FER2013 *train* faces are pasted into 640x480 grey frames at 160 and
   240 px; the median BlazeFace box side (share of the FER crop side) and box centre (share of
   the crop width and height) say how to turn a box into a FER2013-style crop.
2. Accuracy on the validation split of `train/` (the training code's split, never trained on),
   faces at 200 px in frames: the bare box crop (what the device used before), the device's
   `face_crop` with `--side-per-box` x the box side raised by `--raise-share` of the crop side
   (defaults: the device's own framing), and the original crop.
3. The framed crop is also taken levelled by the roll the Face Mesh landmarks measure
   (`framed_levelled`, what the device does); `roll_error_deg` is the median error of that
   measurement. With `--roll DEG` the validation faces are pasted tilted by +DEG and -DEG
   (alternately), as tilted heads.
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.config.camera import FaceConfig
from edge.face.detector import FaceDetector
from edge.face.expression import CROP_RAISE, CROP_SIDE_PER_BOX, FaceExpressionModel, face_crop
from edge.face.landmarks import FaceLandmarker
from edge.inference.registry import ModelRegistry
from edge.types import ImageArray, VideoFrame
from models.training.face import data

MODELS_DIRS = {"face_expression": Path("models"), "fer_minixception": Path("bench/baselines/fer")}


def in_frame(
    face: ImageArray, px: int, rng: np.random.Generator, roll_deg: float = 0.0
) -> tuple[VideoFrame, int, int]:
    """`face` upscaled to `px` at a random place in a grey 640x480 frame, and its top-left.

    A `roll_deg` tilts the face clockwise (as seen) about its centre, as a tilted head would.
    """
    canvas = np.full((480, 640), 128, np.uint8)
    top, left = int(rng.integers(0, 480 - px)), int(rng.integers(0, 640 - px))
    canvas[top : top + px, left : left + px] = cv2.resize(face, (px, px))
    if roll_deg:
        turn = cv2.getRotationMatrix2D((left + px / 2, top + px / 2), -roll_deg, 1.0)
        canvas = cv2.warpAffine(canvas, turn, (640, 480), borderValue=128)
    return VideoFrame(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), 0, 0), top, left


def geometry(detector: FaceDetector, images: np.ndarray, px: int) -> dict[str, float]:
    """Median box side / crop side, and box centre as shares of the crop, over found faces."""
    rng, found = np.random.default_rng(1), []
    for image in images:
        frame, top, left = in_frame(image, px, rng)
        if boxes := detector.process(frame):
            box = boxes[0]
            side = max(box.width, box.height) / px
            found.append(
                (side, (box.x + box.width / 2 - left) / px, (box.y + box.height / 2 - top) / px)
            )
    side, cx, cy = np.median(np.array(found), axis=0)
    return {"face_px": px, "found": len(found), "box_side": side, "centre_x": cx, "centre_y": cy}


def accuracy(
    detector: FaceDetector, model: FaceExpressionModel, split: data.Split, args: argparse.Namespace
) -> dict[str, float]:
    """Accuracy of each crop on the faces the detector finds at 200 px."""
    rng, size = np.random.default_rng(0), model.input_size
    landmarker = FaceLandmarker()
    hits: dict[str, list[bool]] = {"box": [], "framed": [], "original": []}
    roll_errors: list[float] = []
    for index, (image, label) in enumerate(zip(split.images, split.labels, strict=True)):
        tilt = args.roll * (1 if index % 2 else -1)
        frame, _top, _left = in_frame(image, 200, rng, tilt)
        if not (boxes := detector.process(frame)):
            continue
        box = boxes[0]
        crops = {
            "box": face_crop(frame.image, box, size, side_per_box=1.0, raise_share=0.0),
            "framed": face_crop(frame.image, box, size, args.side_per_box, args.raise_share),
            "original": cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR),
        }
        geometry = landmarker.process(frame, box)
        roll = geometry.roll_deg if geometry else 0.0
        roll_errors.append(abs(roll - tilt))
        crops["framed_levelled"] = face_crop(
            frame.image, box, size, args.side_per_box, args.raise_share, roll_deg=roll
        )
        for name, crop in crops.items():
            probabilities = model.score_crop(crop).probabilities
            hits.setdefault(name, []).append(
                max(probabilities, key=probabilities.__getitem__) == data.LABELS[label]
            )
    result = {"n": len(hits["box"])} | {name: float(np.mean(v)) for name, v in hits.items()}
    return result | {"roll_error_deg": float(np.median(roll_errors))}


def main() -> None:
    """Parse arguments, measure, print one JSON line or a short table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=1200, help="train faces for the geometry")
    parser.add_argument("--model", choices=sorted(MODELS_DIRS), default="face_expression")
    parser.add_argument("--side-per-box", type=float, default=CROP_SIDE_PER_BOX)
    parser.add_argument("--raise-share", type=float, default=CROP_RAISE)
    parser.add_argument("--roll", type=float, default=0.0, help="tilt the faces by +-DEG")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    train, val = data.train_val_split(data.load_split("train"), 0.1, 1234)
    detector = FaceDetector(FaceConfig())
    sample = train.images[np.random.default_rng(1).choice(len(train.labels), args.faces, False)]
    result: dict[str, object] = {"geometry": [geometry(detector, sample, px) for px in (160, 240)]}
    spec, tflite = ModelRegistry(MODELS_DIRS[args.model]).open(args.model)
    result["accuracy"] = accuracy(detector, FaceExpressionModel(spec, tflite), val, args)
    result |= {"model": args.model, "side_per_box": args.side_per_box, "raise": args.raise_share}
    result["roll_deg"] = args.roll
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
