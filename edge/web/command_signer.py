"""Signed `command/1` requests to another device of the site, with the site command key.

The request is built exactly as docs/mqtt.md "Commands" prescribes (the same `signing_text`
and `sign` the receiving device checks with) and validated with the contract's own
`CommandRequest` model before it is sent.
"""

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from edge.commands.auth import sign, signing_text
from edge.config.secrets import read_secret, secret_path
from edge.config.web import SITE_COMMAND_KEY_CREDENTIAL, WebConfig
from edge.events.command_payloads import CommandRequest
from edge.events.ids import coarse_utc, new_event_id

NONCE_BYTES = 18
"""24 URL-safe characters: within the contract's 16-64 of `A-Za-z0-9_-`."""


def load_site_command_key(config: WebConfig) -> bytes | None:
    """The site command key from `web.site_command_key_file` or the credential; None if none.

    Raises `ConfigError` for a named file that is missing or empty.
    """
    return read_secret(
        secret_path(config.site_command_key_file, SITE_COMMAND_KEY_CREDENTIAL),
        "web.site_command_key_file",
    )


class CommandSigner:
    """Builds signed command requests; the key never leaves this object (no repr)."""

    def __init__(self, key: bytes, wall_clock: Callable[[], float] = time.time) -> None:
        self._key, self._clock = key, wall_clock

    def __repr__(self) -> str:
        return "CommandSigner(<key>)"

    def request(self, topic: str, args: dict[str, Any]) -> tuple[str, bytes]:
        """(request id, payload) of a fresh `command/1` for `topic` (the full command topic)."""
        request_id = new_event_id()
        issued_at = coarse_utc(self._clock())
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        text = signing_text(topic, request_id, issued_at, nonce, args)
        document = {
            "schema": "command/1",
            "id": request_id,
            "issued_at": issued_at,
            "nonce": nonce,
            "args": args,
            "sig": sign(self._key, text),
        }
        CommandRequest.model_validate(document)  # what the receiver will check, checked here
        return request_id, json.dumps(document, separators=(",", ":")).encode("utf-8")
