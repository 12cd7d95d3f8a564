"""The local consent ledger: an append-only JSON-lines record of consent transitions.

It holds no personal data (state, reason, source, mode, a random interaction id and a
coarse time) and exists so an operator can show when processing was and was not allowed.
"""

import json
import logging
import os
from pathlib import Path

from edge.consent.gate import ConsentChange
from edge.events.ids import coarse_utc

logger = logging.getLogger(__name__)


class ConsentLedger:
    """Appends one line per change; rotates once to `<name>.1` beyond `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int = 5_000_000) -> None:
        self.path = path
        self.max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, change: ConsentChange, wall_s: float) -> None:
        """Record `change`; durable before returning (fsync), since it is evidence."""
        line = json.dumps(
            {
                "time": coarse_utc(wall_s),
                "state": change.state,
                "reason": change.reason,
                "source": change.source,
                "mode": change.mode,
                "interaction_id": change.interaction_id,
            },
            separators=(",", ":"),
        )
        self._rotate_if_large()
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _rotate_if_large(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size >= self.max_bytes:
            self.path.replace(self.path.with_name(self.path.name + ".1"))
            logger.info("Consent ledger rotated at %d bytes", size)
