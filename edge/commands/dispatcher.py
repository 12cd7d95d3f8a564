"""Turn a raw `cmd/<name>` message into exactly one result; a refused command changes nothing.

Checks run from cheapest to most specific: size, JSON, request shape, authentication,
command name, arguments; only then does the handler run.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from edge.commands.auth import CommandAuthenticator, signing_text
from edge.config.loader import format_validation_error
from edge.events.command_payloads import CommandError, CommandRequest, CommandResultPayload
from edge.events.ids import coarse_utc, new_event_id
from edge.events.topics import Topics

logger = logging.getLogger(__name__)


class NoArgs(BaseModel):
    """Arguments of a command that takes none: any argument is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandFailed(Exception):
    """Raised by a handler when a valid command cannot be carried out."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command: its argument model and the handler that gets the validated arguments."""

    name: str
    args_model: type[BaseModel]
    handler: Callable[[Any], dict[str, Any]]


class _Refused(Exception):
    def __init__(self, error: CommandError, request_id: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.request_id = request_id


def _refuse(code: Any, message: str, request_id: str | None = None) -> _Refused:
    return _Refused(CommandError(code=code, message=message[:300]), request_id)


class CommandDispatcher:
    """Validates, authenticates and runs commands; publishes one result per message."""

    def __init__(
        self,
        topics: Topics,
        authenticator: CommandAuthenticator,
        specs: list[CommandSpec],
        max_payload_bytes: int,
        publish_result: Callable[[str, bytes], None],
        wall_clock: Callable[[], float],
    ) -> None:
        self._topics = topics
        self._auth = authenticator
        self._specs = {spec.name: spec for spec in specs}
        self._max_payload_bytes = max_payload_bytes
        self._publish_result = publish_result
        self._clock = wall_clock
        self.accepted_total = 0
        self.refused_total = 0

    def register(self, spec: CommandSpec) -> None:
        """Add a command (the pipeline adds consent, staff and ack) before the service starts."""
        if spec.name in self._specs:
            raise ValueError(f"command {spec.name!r} is already registered")
        self._specs[spec.name] = spec

    @property
    def names(self) -> list[str]:
        """Accepted command names, sorted."""
        return sorted(self._specs)

    def handle(self, topic: str, payload: bytes) -> CommandResultPayload | None:
        """Process one message from `cmd/<name>`; returns the published result."""
        name = self._topics.command_name(topic)
        if name is None:
            return None
        try:
            request_id, result = self._execute(topic, name, payload)
            outcome = self._result(name, request_id, result=result)
            self.accepted_total += 1
        except _Refused as refused:
            self.refused_total += 1
            logger.warning("Refused command %r: %s", name[:64], refused.error.code)
            outcome = self._result(name, refused.request_id, error=refused.error)
        self._publish_result(self._topics.command_result(name), outcome.to_json())
        return outcome

    def _execute(self, topic: str, name: str, payload: bytes) -> tuple[str, dict[str, Any]]:
        if len(payload) > self._max_payload_bytes:
            raise _refuse("too_large", f"payload exceeds {self._max_payload_bytes} bytes")
        try:
            document = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _refuse("malformed_json", f"not valid UTF-8 JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise _refuse("invalid_request", "the payload must be a JSON object")
        raw_id = document.get("id")
        request_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= 64 else None
        if "sig" not in document:
            raise _refuse("unauthenticated", "the command is not signed", request_id)
        try:
            request = CommandRequest.model_validate(document)
        except ValidationError as exc:
            raise _refuse(
                "invalid_request", "; ".join(format_validation_error(exc)), request_id
            ) from exc
        text = signing_text(
            topic, request.id, str(document["issued_at"]), request.nonce, request.args
        )
        denied = self._auth.check(text, request.sig, request.issued_at, request.nonce)
        if denied is not None:
            raise _refuse(denied[0], denied[1], request.id)
        spec = self._specs.get(name)
        if spec is None:
            raise _refuse("unknown_command", f"unknown command {name[:64]!r}", request.id)
        try:
            args = spec.args_model.model_validate(request.args)
        except ValidationError as exc:
            raise _refuse(
                "invalid_args", "; ".join(format_validation_error(exc)), request.id
            ) from exc
        try:
            return request.id, spec.handler(args)
        except CommandFailed as exc:
            raise _refuse("failed", str(exc), request.id) from exc

    def _result(
        self,
        name: str,
        request_id: str | None,
        result: dict[str, Any] | None = None,
        error: CommandError | None = None,
    ) -> CommandResultPayload:
        return CommandResultPayload(
            id=new_event_id(),
            time=coarse_utc(self._clock()),
            command=name[:64],
            request_id=request_id,
            ok=error is None,
            error=error,
            result=result,
        )
