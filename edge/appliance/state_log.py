"""One log line per consent change, with nothing about the person.

Cameras, microphones and the broker log their own changes (`edge.capture`, `edge.publish`);
consent changes happen in the engine, which does no I/O, so they are logged from what the
pipeline publishes: state, reason and channel only, never the interaction id.
"""

import logging

from edge.events.base import Payload
from edge.events.state_payloads import ConsentPayload
from edge.events.topics import Leaf

logger = logging.getLogger(__name__)


def log_consent_change(leaf: Leaf, payload: Payload) -> None:
    """A publisher listener: log each consent state (never blocks)."""
    if leaf is not Leaf.CONSENT or not isinstance(payload, ConsentPayload):
        return
    logger.info(
        "Consent %s (%s, via %s)",
        payload.state,
        payload.reason,
        payload.source,
        # A change to another state is never held back as a "repeat" of this one.
        extra={"repeat_key": f"consent {payload.state} {payload.reason} {payload.source}"},
    )
