"""Command authentication: HMAC-SHA256 over a canonical text, freshness and replay checks.

This sits on top of broker ACLs (only the backend may publish to `cmd/#`): a leaked broker
password alone cannot drive a device, and a captured command cannot be replayed on another
device, another command name, or later.
"""

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from edge.events.command_payloads import ErrorCode

_MAX_NONCES = 10_000


def signing_text(
    topic: str, request_id: str, issued_at: str, nonce: str, args: dict[str, Any]
) -> bytes:
    """The exact bytes a sender signs: canonical JSON (sorted keys, no spaces, UTF-8)."""
    document = {
        "args": args,
        "id": request_id,
        "issued_at": issued_at,
        "nonce": nonce,
        "topic": topic,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sign(key: bytes, text: bytes) -> str:
    """Hex HMAC-SHA256 of `text` under `key`."""
    return hmac.new(key, text, hashlib.sha256).hexdigest()


class CommandAuthenticator:
    """Checks signature, age and uniqueness of each command."""

    def __init__(
        self, key: bytes | None, max_skew_s: float, wall_clock: Callable[[], float]
    ) -> None:
        self._key = key
        self._max_skew_s = max_skew_s
        self._clock = wall_clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check(
        self, text: bytes, signature: str, issued_at: datetime, nonce: str
    ) -> tuple[ErrorCode, str] | None:
        """None when authentic, fresh and new; otherwise the error code and a reason."""
        if self._key is None:
            return "unauthenticated", "no command key is configured on this device"
        if not hmac.compare_digest(sign(self._key, text), signature):
            return "unauthenticated", "signature does not match"
        now = self._clock()
        if abs(now - issued_at.timestamp()) > self._max_skew_s:
            return "unauthenticated", "issued_at is outside the accepted clock skew"
        self._expire(now)
        if nonce in self._seen:
            return "replayed", "this nonce was already used"
        self._seen[nonce] = now
        return None

    def _expire(self, now: float) -> None:
        # A nonce older than twice the skew would fail the age check anyway.
        horizon = now - 2 * self._max_skew_s
        while self._seen and (
            next(iter(self._seen.values())) < horizon or len(self._seen) >= _MAX_NONCES
        ):
            self._seen.popitem(last=False)
