"""Which face is the consenting customer, and whether the voice heard is theirs.

The customer is the largest face present when the interaction starts; only that track is
scored. With other faces around, speech is attributed to the customer only when their mouth
is the one moving (Face Mesh mouth opening), otherwise not at all: staff and bystanders
must never be scored through the microphone either.
"""

from collections import deque

from edge.config.mood import AttributionConfig
from edge.face.tracker import iou
from edge.types import FaceBox, FaceReading

_SAME_PLACE_IOU = 0.3


class CustomerSelector:
    """Keeps the customer's ephemeral track id for one interaction; bounded history."""

    def __init__(self, config: AttributionConfig | None = None) -> None:
        self._config = config or AttributionConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the customer (interaction over)."""
        self.track_id: str | None = None
        self._last_box: FaceBox | None = None
        self._mouths: dict[str, deque[float]] = {}
        self.others_present = False

    def choose(self, faces: list[FaceReading]) -> FaceReading | None:
        """The customer's reading in this frame (choosing one if none yet), or None."""
        self._remember_mouths(faces)
        if self.track_id is None and faces:
            self.track_id = max(faces, key=lambda f: f.box.width * f.box.height).track_id
        customer = next((f for f in faces if f.track_id == self.track_id), None)
        if self._last_box is not None:
            customer = self._by_position(faces, customer, self._last_box)
        if customer is not None:
            self.track_id, self._last_box = customer.track_id, customer.box
        self.others_present = any(f.track_id != self.track_id for f in faces)
        return customer

    @staticmethod
    def _by_position(
        faces: list[FaceReading], by_id: FaceReading | None, last_box: FaceBox
    ) -> FaceReading | None:
        """Trust position over track ids when they disagree.

        When two faces cross, the tracker may lose the customer and hand their id to the
        passer-by; the face where the customer just was is still the customer (position only,
        never appearance).
        """
        if by_id is not None and iou(by_id.box, last_box) >= _SAME_PLACE_IOU:
            return by_id
        best = max(faces, key=lambda f: iou(f.box, last_box), default=None)
        if best is not None and iou(best.box, last_box) >= _SAME_PLACE_IOU:
            return best
        return by_id  # the customer moved: follow the track

    def voice_is_customers(self) -> bool:
        """True when speech may be attributed to the customer.

        With no face tracked at all (voice-only kiosk) the speaker is taken to be the
        consenting customer; with the customer and others in view, only a moving mouth counts.
        """
        if self.track_id is None or not self.others_present:
            return True
        speaking = {
            track
            for track, history in self._mouths.items()
            if history and sum(history) / len(history) >= self._config.speaking_mouth_open
        }
        return speaking == {self.track_id}

    def _remember_mouths(self, faces: list[FaceReading]) -> None:
        present = {f.track_id for f in faces}
        for track in list(self._mouths):
            if track not in present:
                del self._mouths[track]  # gone: its history must not linger
        for face in faces:
            if face.mouth_open is not None:
                history = self._mouths.setdefault(
                    face.track_id, deque(maxlen=self._config.history_frames)
                )
                history.append(face.mouth_open)
