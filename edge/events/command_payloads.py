"""Commands in (`cmd/<name>`) and their results out (`cmd/<name>/result`)."""

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from edge.events.base import Payload, WireModel

ErrorCode = Literal[
    "too_large",
    "malformed_json",
    "invalid_request",
    "unknown_command",
    "unauthenticated",
    "replayed",
    "invalid_args",
    "failed",
]


class CommandRequest(WireModel):
    """A signed command. `sig` is HMAC-SHA256 (hex) over the canonical signing text.

    See docs/mqtt.md "Commands" for the exact signing text.
    """

    schema_name: Literal["command/1"] = Field(alias="schema")
    id: str = Field(min_length=1, max_length=64, description="Chosen by the sender; echoed.")
    issued_at: AwareDatetime = Field(description="When it was signed; checked against skew.")
    nonce: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    args: dict[str, Any] = Field(default_factory=dict)
    sig: str = Field(pattern=r"^[0-9a-f]{64}$")


class CommandError(WireModel):
    """Why a command was refused or failed."""

    code: ErrorCode
    message: str = Field(max_length=300)


class CommandResultPayload(Payload):
    """The outcome of one command; a refused command changes nothing."""

    schema_name: Literal["command_result/1"] = Field(default="command_result/1", alias="schema")
    command: str = Field(max_length=64)
    request_id: str | None = Field(description="The request's id when it could be read.")
    ok: bool
    error: CommandError | None
    result: dict[str, Any] | None
