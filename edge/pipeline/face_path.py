"""Face perception for one frame: detect, track, measure geometry, gate quality, score.

Landmarks (head pose, mouth opening, the eye line's tilt) and expression run only on tracked
faces, and expression only on faces that pass the quality gate, cropped level with the eyes;
the rest become `unknown` readings with their reason, so staff and analytics see why nothing
was scored.
"""

from typing import get_args

from edge.events.state_payloads import FaceQualityHealth
from edge.face.detector import FaceDetectionStage
from edge.face.expression import FaceExpressionModel
from edge.face.landmarks import FaceLandmarker
from edge.face.quality import QualityGate
from edge.face.tracker import FaceTracker
from edge.types import FaceReading, UnknownReason, VideoFrame


class FacePath:
    """Frame in, one `FaceReading` per tracked face out."""

    def __init__(
        self,
        detector: FaceDetectionStage,
        tracker: FaceTracker,
        quality: QualityGate,
        expression: FaceExpressionModel,
        landmarker: FaceLandmarker | None = None,
    ) -> None:
        self._detector, self._tracker, self._quality = detector, tracker, quality
        self._expression, self._landmarker = expression, landmarker

    def process(self, frame: VideoFrame) -> list[FaceReading]:
        """Readings for every face tracked in `frame`."""
        readings = []
        for tracked in self._tracker.process(self._detector.process(frame)):
            box = tracked.box
            geometry = self._landmarker.process(frame, box) if self._landmarker else None
            verdict = self._quality.process(frame, box, geometry)
            roll_deg = geometry.roll_deg if geometry else 0.0
            scores = self._expression.process(frame, box, roll_deg) if verdict.passed else None
            readings.append(
                FaceReading(
                    ts_mono_ns=frame.ts_mono_ns,
                    track_id=tracked.track_id,
                    box=box,
                    scores=scores,
                    unknown_reason=verdict.reason,
                    mouth_open=geometry.mouth_open if geometry else None,
                )
            )
        return readings

    def quality_health(self) -> FaceQualityHealth:
        """The quality gate's decisions since start, for `health` (read from another thread:
        the counter is copied first, so a frame being judged cannot change it mid-read)."""
        refused = dict(self._quality.refused)
        # One `<reason>_total` field per reason: a new reason without its field fails loudly.
        per_reason = {f"{r}_total": refused.get(r, 0) for r in get_args(UnknownReason)}
        return FaceQualityHealth(scored_total=self._quality.passed_total, **per_reason)

    def reset(self) -> None:
        """Forget every track (consent ended): new faces get new random ids.

        The quality gate keeps its counters: they describe the site, not a person.
        """
        self._tracker.reset()
