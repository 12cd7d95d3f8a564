"""Survey answers from the kiosk screen, published as `survey/1` through the outbox."""

import time
from collections.abc import Callable

from edge.app import EdgeService
from edge.events.topics import Leaf
from edge.privacy import anonymize


class PublishingSurveySink:
    """The web screen's `SurveySink`: one durable `survey/1` event per answer."""

    def __init__(self, service: EdgeService, wall_clock: Callable[[], float] = time.time) -> None:
        self._service, self._clock = service, wall_clock

    def record(self, interaction_id: str, answer: int) -> None:
        """Publish the answer (the web layer already checked window and uniqueness)."""
        self._service.emit(
            Leaf.SURVEY, anonymize.survey_payload(interaction_id, answer, self._clock())
        )
