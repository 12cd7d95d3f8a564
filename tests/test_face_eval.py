"""`moodsense eval face` on small images: when the whole image is scored, when the face box."""

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config.camera import FaceConfig
from edge.evaluation.face_eval import FaceEvalCounts, predict_image, whole_image_crop
from edge.face.detector import FaceDetector
from edge.face.expression import FaceExpressionModel
from edge.face.landmarks import FaceLandmarker
from edge.inference.registry import ModelRegistry
from edge.types import VideoFrame
from tests.data_paths import fer_images


@pytest.fixture(scope="module")
def detector() -> Iterator[FaceDetector]:
    """The detector the eval command uses (MediaPipe Tasks, BlazeFace short-range)."""
    stage = FaceDetector(FaceConfig())
    yield stage
    stage.close()


@pytest.fixture(scope="module")
def model() -> FaceExpressionModel:
    """The shipped expression model."""
    spec, tflite = ModelRegistry().open("face_expression")
    return FaceExpressionModel(spec, tflite)


def test_tight_face_crops_are_scored_whole(
    detector: FaceDetector, model: FaceExpressionModel
) -> None:
    """Re-cropping a FER-style crop to the detector's box cut the forehead and cost accuracy."""
    counts = FaceEvalCounts()
    paths = fer_images("happy", 10)
    for path in paths:
        probabilities = predict_image(path, detector, model, counts)
        whole = model.score_crop(whole_image_crop(cv2.imread(str(path)), model.input_size))
        assert probabilities == whole.probabilities
    assert counts.detected == 0
    assert counts.tight_crop > 0  # the detector does find most of these faces
    assert counts.tight_crop + counts.whole_image == len(paths)


def test_a_small_face_in_a_small_image_is_cropped_to_its_box(
    detector: FaceDetector, model: FaceExpressionModel, tmp_path: Path
) -> None:
    """A small image is not always a tight crop: a face filling ~40 % of it is cut out."""
    counts = FaceEvalCounts()
    for index, path in enumerate(fer_images("happy", 10)):
        canvas = np.full((160, 160, 3), 128, np.uint8)
        canvas[44:116, 44:116] = cv2.resize(cv2.imread(str(path)), (72, 72))
        cv2.imwrite(str(tmp_path / f"{index}.png"), canvas)
        predict_image(tmp_path / f"{index}.png", detector, model, counts)
    assert counts.tight_crop == 0
    assert counts.detected >= 5  # BlazeFace finds 7 of these 10 faces


def test_a_tilted_face_in_a_frame_is_scored_as_the_device_scores_it(
    detector: FaceDetector, model: FaceExpressionModel, tmp_path: Path
) -> None:
    """A whole frame is cut and levelled by the landmarks' roll, exactly as on the device."""
    landmarker = FaceLandmarker()
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[140:340, 220:420] = cv2.resize(cv2.imread(str(fer_images("happy", 1)[0])), (200, 200))
    turn = cv2.getRotationMatrix2D((320.0, 240.0), -20.0, 1.0)
    cv2.imwrite(str(tmp_path / "tilted.png"), cv2.warpAffine(canvas, turn, (640, 480)))
    counts = FaceEvalCounts()
    scored = predict_image(tmp_path / "tilted.png", detector, model, counts, landmarker)
    frame = VideoFrame(cv2.imread(str(tmp_path / "tilted.png")), ts_mono_ns=0, index=0)
    box = detector.process(frame)[0]
    geometry = landmarker.process(frame, box)
    assert geometry is not None and geometry.roll_deg > 12
    assert counts.detected == 1
    assert scored == model.process(frame, box, geometry.roll_deg).probabilities
    assert scored != model.process(frame, box).probabilities
