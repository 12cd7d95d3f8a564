"""A scripted kiosk scenario built from real data: neutral -> angry -> happy.

Video: real FER2013 test faces, one per script segment, on 640x480 frames at 15 fps, with a
second face passing by behind the customer during the angry part. Audio: RAVDESS clips of
actors 20-24 (test speakers of the voice model) of the same emotions, laid end to end to fill
each segment. Nothing is committed: the files are written into the test's tmp_path.

The scenario tests the pipeline (fusion, smoothing, alerts, summaries), not the models'
accuracy (which `moodsense eval` reports), so its inputs are chosen by the device's own
readings, by rules fixed in advance:
- each segment's face: among the first CANDIDATES FER2013 test faces of its class, the one the
  face path (detector, landmarks and quality gate, expression model) reads as that class with
  the highest confidence, on frames that went through the clip's own codec. The first face read
  as the class with a small lead was fragile: the neutral one read mildly angry (the neutral
  part came out "upset"), and an angry one sat at the head-pose limit, so after MJPG it was
  refused and voice alone carried the angry part;
- each segment's clips: the RAVDESS clips the voice path reads as that class;
- the bystander: the first FER2013 neutral face the detector finds clearly where it walks (the
  face used before was never detected, so there was no second face to handle).
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from edge.config import EdgeConfig
from edge.inference.registry import ModelRegistry
from edge.labels import CATEGORIES
from edge.pipeline.build import build_face_path, build_voice_path
from edge.pipeline.face_path import FacePath
from edge.pipeline.voice_path import VoicePath
from edge.types import AudioChunk, VideoFrame
from tests.data_paths import DATA, fer_images
from tests.face_clips import Placement, compose, write_clip

FPS = 15.0
RATE_HZ = 16000
FACE_PX = 240
SCRIPT = (("neutral", 12.0), ("angry", 24.0), ("happy", 18.0))
"""(label, seconds) in order."""
FER_FOLDER = {"neutral": "neutral", "angry": "angry", "happy": "happy"}
RAVDESS_CODE = {"neutral": "01", "angry": "05", "happy": "03"}
CANDIDATES = 120
"""How many FER2013 test faces per class the scenario chooses from."""
CLEAR_DETECTION = 0.85
"""Minimum detector score of a chosen face, so compression noise cannot lose it."""
CUSTOMER = (200, 120)
"""Top-left of the customer's face in the frame, px."""
PASSER_Y, PASSER_PX = 10, 140
"""Where (top, px) and how big the bystander's face is as it crosses the frame."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """The recordings and the script's segment boundaries (seconds)."""

    video: Path
    audio: Path
    segments: tuple[tuple[str, float, float], ...]

    def label_at(self, t_s: float) -> str | None:
        """The scripted label at `t_s`, or None past the end."""
        return next((label for label, start, end in self.segments if start <= t_s < end), None)


def _clearest_face(label: str, faces: FacePath, directory: Path) -> Path:
    """The FER2013 test face of `label` that the face path reads as `label` most confidently.

    Every candidate is composed where the customer stands and written through the clip's own
    codec (MJPG), so the reading is the one the replay will get.
    """
    candidates = fer_images(FER_FOLDER[label], CANDIDATES)
    frames = [compose([Placement(path, *CUSTOMER, FACE_PX)]) for path in candidates]
    clip_path = write_clip(directory / f"candidates-{label}.avi", frames, FPS)
    clip = cv2.VideoCapture(str(clip_path))
    confidence: dict[Path, float] = {}
    for path in candidates:
        _ok, image = clip.read()
        readings = faces.process(VideoFrame(np.asarray(image, np.uint8), 0, 0))
        faces.reset()
        if len(readings) != 1 or readings[0].box.score < CLEAR_DETECTION:
            continue
        scores = readings[0].scores  # None: refused by the quality gate
        if (
            scores is not None
            and max(scores.probabilities, key=scores.probabilities.__getitem__) == label
        ):
            confidence[path] = scores.confidence
    clip.release()
    clip_path.unlink()
    if not confidence:
        raise AssertionError(f"no FER2013 {label} face read as {label}")
    return max(confidence, key=confidence.__getitem__)


def _visible_passer(faces: FacePath, customer_faces: set[Path]) -> Path:
    """The first FER2013 neutral test face (not the customer's) detected clearly where the
    bystander walks, so the device really sees a second face."""
    for path in fer_images("neutral", CANDIDATES):
        _ok, jpeg = cv2.imencode(".jpg", compose([Placement(path, 0, PASSER_Y, PASSER_PX)]))
        frame = VideoFrame(np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), np.uint8), 0, 0)
        readings = faces.process(frame)
        faces.reset()
        clear = len(readings) == 1 and readings[0].box.score >= CLEAR_DETECTION
        if clear and path not in customer_faces:
            return path
    raise AssertionError("no FER2013 neutral face detected as a bystander")


def _frames(
    faces: dict[str, Path], passer: Path, script: tuple[tuple[str, float], ...]
) -> list[np.ndarray]:
    frames = []
    for label, seconds in script:
        for i in range(int(seconds * FPS)):
            placements = [Placement(faces[label], *CUSTOMER, FACE_PX)]
            # A bystander walks past behind the customer during the angry part: drawn first,
            # so the customer's face hides the bystander's where they overlap, not the reverse.
            if label == "angry" and 6 * FPS <= i < 10 * FPS:
                x = int((i - 6 * FPS) / (4 * FPS) * 480)
                placements.insert(0, Placement(passer, x, PASSER_Y, PASSER_PX))
            frames.append(compose(placements))
    return frames


def _clips_reading_as(label: str, voices: VoicePath) -> list[np.ndarray]:
    """The RAVDESS test-actor clips of `label` that the voice path reads as `label` (sorted).

    A clip's reading is the mean of its speech windows' probabilities; acted clips the model
    hears as another emotion (many "angry" takes sound surprised to it) would blur the script.
    """
    folder = DATA / "speech" / "ravdess"
    chosen = []
    for path in sorted(folder.glob(f"Actor_2[0-4]/03-01-{RAVDESS_CODE[label]}-*.flac")):
        audio, rate = sf.read(path, dtype="float32")
        readings = voices.process(AudioChunk(audio, rate, 0)) + voices.flush()
        voices.reset()
        scored = [r.scores.probabilities for r in readings if r.speech and r.scores is not None]
        if not scored:
            continue
        mean = {c: float(np.mean([p.get(c, 0.0) for p in scored])) for c in CATEGORIES}
        if max(mean, key=mean.__getitem__) == label:
            chosen.append(audio)
    if not chosen:
        raise AssertionError(f"no RAVDESS {label} clip read as {label}")
    return chosen


def _audio(script: tuple[tuple[str, float], ...], voices: VoicePath) -> np.ndarray:
    clips = {label: _clips_reading_as(label, voices) for label in {x for x, _s in script}}
    parts = []
    for label, seconds in script:
        segment: list[np.ndarray] = []
        while sum(len(s) for s in segment) < seconds * RATE_HZ:
            segment.append(clips[label][len(segment) % len(clips[label])])
        parts.append(np.concatenate(segment)[: int(seconds * RATE_HZ)])
    return np.concatenate(parts)


def build_scenario(
    directory: Path, registry: ModelRegistry, script: tuple[tuple[str, float], ...] = SCRIPT
) -> Scenario:
    """Write the scenario's video and audio into `directory`."""
    config = EdgeConfig(state_dir=directory / "state")
    face_path = build_face_path(config, registry)
    labels = sorted({label for label, _seconds in script})
    faces = {label: _clearest_face(label, face_path, directory) for label in labels}
    passer = _visible_passer(face_path, set(faces.values()))
    video = write_clip(directory / "scenario.avi", _frames(faces, passer, script), FPS)
    audio = directory / "scenario.wav"
    sf.write(audio, _audio(script, build_voice_path(config, registry)), RATE_HZ)
    segments, start = [], 0.0
    for label, seconds in script:
        segments.append((label, start, start + seconds))
        start += seconds
    return Scenario(video, audio, tuple(segments))
