"""Ephemeral face tracks: which box in this frame is the same face as in the last frames.

Matching uses geometry only (box overlap, then centre distance for fast moves), never
appearance: no embeddings, no recognition. Track ids are fresh random ids, live in memory
only, and die a few frames after their face is gone, so a returning person gets a new id.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from edge.config.camera import FaceConfig
from edge.events.ids import new_random_id
from edge.types import FaceBox

logger = logging.getLogger(__name__)

# A detection whose centre moved less than this fraction of the box size still continues
# its track when the boxes no longer overlap enough (a quick step at low fps: a sideways move
# of 0.54 box widths already drops the overlap below 0.3).
CENTRE_MATCH_FRACTION = 0.75


@dataclass(frozen=True, slots=True)
class TrackedFace:
    """One detection of this frame with its ephemeral track id."""

    track_id: str
    box: FaceBox
    age_frames: int
    """Frames since the track started (0 on its first frame)."""


@dataclass(slots=True)
class _Track:
    track_id: str
    box: FaceBox
    age_frames: int = 0
    missed_frames: int = 0
    matched: bool = False


def iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes, in [0, 1]."""
    ix = max(0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
    iy = max(0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: FaceBox, b: FaceBox) -> float:
    """Distance between box centres relative to the larger box side (dimensionless)."""
    dx = (a.x + a.width / 2) - (b.x + b.width / 2)
    dy = (a.y + a.height / 2) - (b.y + b.height / 2)
    return float((dx * dx + dy * dy) ** 0.5) / max(a.width, a.height, b.width, b.height, 1)


class FaceTracker:
    """Boxes of one frame in, the same boxes with track ids out (at most `max_tracks`)."""

    def __init__(self, config: FaceConfig, id_factory: Callable[[], str] = new_random_id) -> None:
        """`id_factory` makes each new track id; the default is random (never from a face)."""
        self._iou_min = config.tracker_iou_min
        self._max_missed = config.tracker_max_missed_frames
        self._max_tracks = config.tracker_max_tracks
        self._new_id = id_factory
        self._tracks: list[_Track] = []
        self.untracked_total = 0
        """Faces left without a track because `max_tracks` were already followed."""

    @property
    def active_tracks(self) -> int:
        """Tracks alive now, including those coasting through missed frames."""
        return len(self._tracks)

    def process(self, boxes: list[FaceBox]) -> list[TrackedFace]:
        """Assign track ids to this frame's `boxes`; expire tracks missed too long."""
        for track in self._tracks:
            track.matched = False
        pairs = self._match(boxes)
        out: list[TrackedFace] = []
        for box_index, track in pairs.items():
            track.box, track.matched, track.missed_frames = boxes[box_index], True, 0
            track.age_frames += 1
            out.append(TrackedFace(track.track_id, track.box, track.age_frames))
        # Bigger faces are nearer the kiosk: they get the free slots first.
        fresh = sorted(
            (b for i, b in enumerate(boxes) if i not in pairs), key=lambda b: -b.width * b.height
        )
        self._expire()
        for box in fresh:
            if len(self._tracks) >= self._max_tracks:
                self.untracked_total += 1
                continue
            track = _Track(self._new_id(), box, matched=True)
            self._tracks.append(track)
            out.append(TrackedFace(track.track_id, box, 0))
        return out

    def reset(self) -> None:
        """Forget every track (their ids are never seen again)."""
        self._tracks.clear()
        self.untracked_total = 0

    def _match(self, boxes: list[FaceBox]) -> dict[int, _Track]:
        # Greedy: best overlap first, then nearest centre among boxes that do not overlap.
        scored = sorted(
            (-iou(box, track.box), _centre_distance(box, track.box), i, t)
            for i, box in enumerate(boxes)
            for t, track in enumerate(self._tracks)
        )
        pairs: dict[int, _Track] = {}
        used: set[int] = set()
        for neg_overlap, distance, i, t in scored:
            if i in pairs or t in used:
                continue
            if -neg_overlap >= self._iou_min or distance <= CENTRE_MATCH_FRACTION:
                pairs[i] = self._tracks[t]
                used.add(t)
        return pairs

    def _expire(self) -> None:
        for track in self._tracks:
            if not track.matched:
                track.missed_frames += 1
        self._tracks = [t for t in self._tracks if t.missed_frames <= self._max_missed]
