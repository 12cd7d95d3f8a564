"""Engine outputs -> payloads (through the privacy builder) -> the durable publisher.

Consent changes also go to the retained `consent` topic and the local ledger. With an
events file (replay `--events`), every payload is appended there too as one JSON line.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import IO

from edge.app import EdgeService
from edge.consent.ledger import ConsentLedger
from edge.events.base import Payload
from edge.events.topics import Leaf
from edge.mood.baseline import BaselineSketch
from edge.mood.engine import (
    AlertUpdate,
    ConsentUpdate,
    InteractionEnded,
    InteractionStarted,
    MoodUpdate,
    Output,
)
from edge.privacy import anonymize

logger = logging.getLogger(__name__)


class OutputPublisher:
    """Turns each engine output into its payload and sends it where it belongs."""

    def __init__(
        self,
        service: EdgeService,
        ledger: ConsentLedger,
        wall_clock: Callable[[], float],
        events_file: Path | None = None,
        baseline: tuple[BaselineSketch, Path] | None = None,
    ) -> None:
        self._service, self._ledger, self._clock = service, ledger, wall_clock
        self._baseline = baseline
        self._listeners: list[Callable[[Leaf, Payload], None]] = []
        self._events: IO[str] | None = (
            events_file.open("a", encoding="utf-8") if events_file else None
        )
        self.published: dict[str, int] = {}

    def add_listener(self, listener: Callable[[Leaf, Payload], None]) -> None:
        """Also hand every published payload to `listener` (local screens); it must not block."""
        self._listeners.append(listener)

    def publish(self, outputs: list[Output]) -> None:
        """Publish every output in order."""
        for output in outputs:
            leaf, payload = self._payload(output)
            if isinstance(output, ConsentUpdate):
                self._service.publisher.set_state(
                    self._service.topics.leaf(leaf), payload.to_json()
                )
                self._ledger.append(output.change, self._clock())
            else:
                self._service.emit(leaf, payload)
            self.published[leaf.value] = self.published.get(leaf.value, 0) + 1
            for listener in self._listeners:
                listener(leaf, payload)
            if isinstance(output, InteractionEnded) and self._baseline is not None:
                # The site's learned baseline survives restarts; saved once per interaction.
                self._baseline[0].save(self._baseline[1])
            if self._events is not None:
                self._events.write(payload.to_json().decode("utf-8") + "\n")
        if self._events is not None:
            self._events.flush()

    def _payload(self, output: Output) -> tuple[Leaf, Payload]:
        wall = self._clock()
        if isinstance(output, ConsentUpdate):
            return Leaf.CONSENT, anonymize.consent_payload(output.change, wall)
        if isinstance(output, InteractionStarted):
            return Leaf.INTERACTION, anonymize.interaction_start_payload(output.change, wall)
        if isinstance(output, InteractionEnded):
            return Leaf.INTERACTION, anonymize.interaction_end_payload(
                output.interaction_id, output.consent_mode, output.reason, output.summary, wall
            )
        if isinstance(output, MoodUpdate):
            return Leaf.MOOD, anonymize.mood_payload(
                output.mood, output.interaction_id, output.t_rel_s, wall
            )
        if isinstance(output, AlertUpdate):
            return Leaf.ALERT, anonymize.alert_payload(output.event, output.interaction_id, wall)
        raise TypeError(f"unknown engine output {type(output).__name__}")

    def close(self) -> None:
        """Close the events file, if any."""
        if self._events is not None:
            self._events.close()
