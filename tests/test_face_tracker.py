"""Ephemeral tracking: stable ids while a face moves, random ids, expiry, bounded tracks."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from ulid import ULID

from edge.capture.video_file import VideoFileSource
from edge.config.camera import FaceConfig
from edge.face.detector import FaceDetector
from edge.face.tracker import FaceTracker
from edge.types import FaceBox
from tests.face_clips import Placement, as_frame, compose, fer_sample, write_clip

CONFIG = FaceConfig(tracker_max_missed_frames=3)
SIZE = 240


@pytest.fixture(scope="module")
def detector() -> Iterator[FaceDetector]:
    """One detector for the module."""
    instance = FaceDetector(CONFIG)
    yield instance
    instance.close()


def _faces_that_detect(detector: FaceDetector, count: int) -> list[Path]:
    """FER images found clearly (score >= 0.85) at SIZE px: this tests tracking, not detection."""
    good = []
    for image in fer_sample(40):
        boxes = detector.process(as_frame(compose([Placement(image, 200, 120, SIZE)])))
        if boxes and boxes[0].score >= 0.85:
            good.append(image)
        if len(good) == count:
            return good
    pytest.fail("too few detectable FER images")


def _track_clip(detector: FaceDetector, clip: Path, tracker: FaceTracker) -> list[list[str]]:
    """Track ids per frame over a clip replayed through the video file source."""
    source = VideoFileSource(clip)
    ids = []
    while (frame := source.read(0.0)) is not None:
        ids.append([t.track_id for t in tracker.process(detector.process(frame))])
    return ids


@pytest.fixture(scope="module")
def walking_clip(detector: FaceDetector, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 frames: one face walking left to right (12 px per frame), gone for 6, then back."""
    image = _faces_that_detect(detector, 1)[0]
    frames = [compose([Placement(image, 20 + 12 * i, 120, SIZE)]) for i in range(30)]
    frames += [compose([])] * 6
    frames += [compose([Placement(image, 200, 120, SIZE)])] * 4
    return write_clip(tmp_path_factory.mktemp("clips") / "walk.mp4", frames)


def test_a_moving_face_keeps_one_track_id(detector: FaceDetector, walking_clip: Path) -> None:
    """The mood of one customer must not be split across ids while they move."""
    ids = _track_clip(detector, walking_clip, FaceTracker(CONFIG))
    walking = [i for frame_ids in ids[:30] for i in frame_ids]
    assert len(walking) >= 27  # a missed detection or two is fine; the id must not change
    assert len(set(walking)) == 1


def test_a_face_that_left_comes_back_with_a_new_id(
    detector: FaceDetector, walking_clip: Path
) -> None:
    """Ids die with the track, so nobody can be followed across visits."""
    ids = _track_clip(detector, walking_clip, FaceTracker(CONFIG))
    assert ids[30:36] == [[]] * 6
    before = {i for frame_ids in ids[:30] for i in frame_ids}
    after = {i for frame_ids in ids[36:] for i in frame_ids}
    assert len(after) == 1 and after.isdisjoint(before)


def test_track_ids_are_random_per_run(detector: FaceDetector, walking_clip: Path) -> None:
    """The same face on the same clip must get a different id each time (never appearance)."""
    first = {i for f in _track_clip(detector, walking_clip, FaceTracker(CONFIG)) for i in f}
    second = {i for f in _track_clip(detector, walking_clip, FaceTracker(CONFIG)) for i in f}
    assert first and second and first.isdisjoint(second)
    for track_id in first | second:
        ULID.from_str(track_id)  # a fresh random ULID, not a hash of anything


def test_two_faces_get_two_ids(detector: FaceDetector, tmp_path: Path) -> None:
    """Two customers side by side must be scored as two people."""
    left, right = _faces_that_detect(detector, 2)
    frames = [
        compose([Placement(left, 10 + 3 * i, 100, SIZE), Placement(right, 390 - 3 * i, 140, SIZE)])
        for i in range(12)
    ]
    ids = _track_clip(detector, write_clip(tmp_path / "two.avi", frames), FaceTracker(CONFIG))
    assert [len(frame_ids) for frame_ids in ids] == [2] * len(frames)
    assert len({i for frame_ids in ids for i in frame_ids}) == 2


def _box(x: int, y: int = 100, size: int = 100) -> FaceBox:
    return FaceBox(x=x, y=y, width=size, height=size, score=0.9)


def test_fast_move_without_overlap_continues_by_centre_distance() -> None:
    """At low fps a quick step leaves no overlap; the centre rule keeps the same customer."""
    tracker = FaceTracker(CONFIG)
    (first,) = tracker.process([_box(100)])
    (second,) = tracker.process([_box(170)])  # IoU 0.18, centre moved 0.7 box widths
    (third,) = tracker.process([_box(400)])  # 2.3 box widths away: somebody else
    assert first.track_id == second.track_id != third.track_id
    assert second.age_frames == 1 and third.age_frames == 0


def test_tracks_are_bounded_and_biggest_faces_win() -> None:
    """A crowd must not grow memory without bound; the nearest (largest) faces are kept."""
    tracker = FaceTracker(FaceConfig(tracker_max_tracks=2))
    boxes = [_box(0, size=50), _box(200, size=120), _box(400, size=90)]
    tracked = tracker.process(boxes)
    assert sorted(t.box.width for t in tracked) == [90, 120]
    assert tracker.untracked_total == 1 and tracker.active_tracks == 2


def test_tracks_expire_after_missed_frames_and_reset_forgets_all() -> None:
    """A track coasts through short misses, then expires; reset leaves nothing behind."""
    tracker = FaceTracker(CONFIG)
    (start,) = tracker.process([_box(100)])
    for _ in range(3):
        assert tracker.process([]) == []
    (coasted,) = tracker.process([_box(100)])
    assert coasted.track_id == start.track_id
    for _ in range(4):
        tracker.process([])
    assert tracker.active_tracks == 0
    (fresh,) = tracker.process([_box(100)])
    assert fresh.track_id != start.track_id
    tracker.reset()
    assert tracker.active_tracks == 0
