"""A scripted kiosk scenario built from real data: neutral -> angry -> happy.

Video: real FER2013 test faces, one per script segment, on 640x480 frames at 15 fps, with a
second face passing by during the angry part. Audio: RAVDESS test-actor clips (actors 19-24)
of the same emotions, laid end to end to fill each segment. Nothing is committed: the files
are written into the test's tmp_path.

The faces are the first FER2013 test images of each class that the face path itself (detector,
quality gate, expression model, on a composed frame) reads as that class: the scenario tests
the pipeline, not the model's accuracy (which `moodsense eval` reports).
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from edge.config import EdgeConfig
from edge.inference.registry import ModelRegistry
from edge.pipeline.build import build_face_path
from edge.pipeline.face_path import FacePath
from edge.types import VideoFrame
from tests.data_paths import DATA, fer_images
from tests.face_clips import Placement, compose, write_clip

FPS = 15.0
RATE_HZ = 16000
FACE_PX = 240
SCRIPT = (("neutral", 12.0), ("angry", 24.0), ("happy", 18.0))
"""(label, seconds) in order."""
FER_FOLDER = {"neutral": "neutral", "angry": "angry", "happy": "happy"}
RAVDESS_CODE = {"neutral": "01", "angry": "05", "happy": "03"}
CLEAR_LEAD = 0.1
"""How far the scripted class must lead the runner-up for a face to be chosen."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """The recordings and the script's segment boundaries (seconds)."""

    video: Path
    audio: Path
    segments: tuple[tuple[str, float, float], ...]

    def label_at(self, t_s: float) -> str | None:
        """The scripted label at `t_s`, or None past the end."""
        return next((label for label, start, end in self.segments if start <= t_s < end), None)


def _face_reading_as(label: str, faces: FacePath) -> Path:
    """The first FER2013 test face that the face path, on a composed frame, scores as `label`."""
    for path in fer_images(FER_FOLDER[label], 120):
        # Through JPEG and back, as the clip's MJPG frames will be.
        _ok, jpeg = cv2.imencode(".jpg", compose([Placement(path, 200, 120, FACE_PX)]))
        frame = VideoFrame(np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), np.uint8), 0, 0)
        readings = faces.process(frame)
        faces.reset()
        if len(readings) != 1 or readings[0].scores is None or readings[0].box.score < 0.85:
            continue  # a clear detection, so compression noise cannot lose the face
        ranked = sorted(readings[0].scores.probabilities.items(), key=lambda kv: -kv[1])
        # A clear lead, so the small differences between detector backends cannot flip it.
        if ranked[0][0] == label and ranked[0][1] - ranked[1][1] >= CLEAR_LEAD:
            return path
    raise AssertionError(f"no FER2013 {label} face read as {label}")


def _frames(
    faces: dict[str, Path], passer: Path, script: tuple[tuple[str, float], ...]
) -> list[np.ndarray]:
    frames = []
    for label, seconds in script:
        for i in range(int(seconds * FPS)):
            placements = [Placement(faces[label], 200, 120, FACE_PX)]
            # A bystander walks past behind the customer during the angry part.
            if label == "angry" and 6 * FPS <= i < 10 * FPS:
                x = int((i - 6 * FPS) / (4 * FPS) * 480)
                placements.append(Placement(passer, x, 10, 140))
            frames.append(compose(placements))
    return frames


def _audio(script: tuple[tuple[str, float], ...]) -> np.ndarray:
    parts = []
    for label, seconds in script:
        clips = sorted(
            (DATA / "speech" / "ravdess").glob(f"Actor_2[0-4]/03-01-{RAVDESS_CODE[label]}-*.flac")
        )
        segment: list[np.ndarray] = []
        while sum(len(s) for s in segment) < seconds * RATE_HZ:
            audio, _rate = sf.read(clips[len(segment) % len(clips)], dtype="float32")
            segment.append(audio)
        parts.append(np.concatenate(segment)[: int(seconds * RATE_HZ)])
    return np.concatenate(parts)


def build_scenario(
    directory: Path, registry: ModelRegistry, script: tuple[tuple[str, float], ...] = SCRIPT
) -> Scenario:
    """Write the scenario's video and audio into `directory`."""
    face_path = build_face_path(EdgeConfig(state_dir=directory / "state"), registry)
    faces = {label: _face_reading_as(label, face_path) for label in {x for x, _s in script}}
    passer = fer_images("neutral", 80)[-1]
    video = write_clip(directory / "scenario.avi", _frames(faces, passer, script), FPS)
    audio = directory / "scenario.wav"
    sf.write(audio, _audio(script), RATE_HZ)
    segments, start = [], 0.0
    for label, seconds in script:
        segments.append((label, start, start + seconds))
        start += seconds
    return Scenario(video, audio, tuple(segments))
