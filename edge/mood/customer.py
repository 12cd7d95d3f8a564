"""Which face is the consenting customer, and whether the voice heard is theirs.

The customer is the largest face present when the interaction starts; only that track is
scored. With other faces around, speech is attributed to the customer only when their mouth
is the one moving (Face Mesh mouth opening), otherwise not at all: staff and bystanders
must never be scored through the microphone either.
"""

from collections import deque

from edge.config.mood import AttributionConfig
from edge.types import FaceReading


class CustomerSelector:
    """Keeps the customer's ephemeral track id for one interaction; bounded history."""

    def __init__(self, config: AttributionConfig | None = None) -> None:
        self._config = config or AttributionConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the customer (interaction over)."""
        self.track_id: str | None = None
        self._mouths: dict[str, deque[float]] = {}
        self.others_present = False

    def choose(self, faces: list[FaceReading]) -> FaceReading | None:
        """The customer's reading in this frame (choosing one if none yet), or None."""
        self._remember_mouths(faces)
        if self.track_id is None and faces:
            self.track_id = max(faces, key=lambda f: f.box.width * f.box.height).track_id
        self.others_present = any(f.track_id != self.track_id for f in faces)
        return next((f for f in faces if f.track_id == self.track_id), None)

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
