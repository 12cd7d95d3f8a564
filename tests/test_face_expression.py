"""The expression crop: what the model sees of a detected face must match its training framing."""

import cv2
import numpy as np

from edge.config.camera import FaceConfig
from edge.face.detector import FaceDetector
from edge.face.expression import face_crop
from edge.types import ImageArray, VideoFrame
from tests.data_paths import fer_images

FACE_PX = 200


def _in_frame(face: ImageArray) -> VideoFrame:
    """A FER2013 face upscaled to FACE_PX in the middle of a grey 640x480 frame."""
    canvas = np.full((480, 640), 128, np.uint8)
    top, left = (480 - FACE_PX) // 2, (640 - FACE_PX) // 2
    canvas[top : top + FACE_PX, left : left + FACE_PX] = cv2.resize(face, (FACE_PX, FACE_PX))
    return VideoFrame(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), ts_mono_ns=0, index=0)


def test_the_crop_of_a_detected_face_looks_like_the_fer2013_crop_it_came_from() -> None:
    """BlazeFace's bare box is tighter and lower than FER2013 framing, which cost accuracy."""
    detector = FaceDetector(FaceConfig())
    framed, bare = [], []
    for path in fer_images("happy", 10) + fer_images("sad", 10):
        original = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        frame = _in_frame(original)
        boxes = detector.process(frame)
        if not boxes:
            continue
        box = boxes[0]
        size = original.shape[0]
        crop = face_crop(frame.image, box, size)
        box_only = face_crop(frame.image, box, size, side_per_box=1.0, raise_share=0.0)
        framed.append(np.abs(crop.astype(np.float32) - original).mean())
        bare.append(np.abs(box_only.astype(np.float32) - original).mean())
    detector.close()
    assert len(framed) >= 15
    # Grey levels 0-255: measured 33 framed vs 43 for the bare box on these faces.
    assert np.mean(framed) < 38
    assert np.mean(framed) < np.mean(bare) - 5
