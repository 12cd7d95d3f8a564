"""Building blocks shared by every payload: strict models, id and time formats."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# ULID in Crockford base32: what `edge.events.ids` produces.
EventId = Annotated[
    str, Field(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$", description="ULID, unique and sortable.")
]
RandomId = Annotated[
    str,
    Field(
        pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$",
        description="Random per interaction/alert; never derived from a person.",
    ),
]
CoarseTime = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        description="UTC, whole seconds, ISO 8601.",
    ),
]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
UnitInterval = Annotated[float, Field(ge=0.0, le=1.0)]
SignedUnit = Annotated[float, Field(ge=-1.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Count = Annotated[int, Field(ge=0)]

MoodState = Literal["calm", "positive", "frustrated", "upset", "unknown"]
ConsentMode = Literal["opt_in", "notice"]
ConsentState = Literal["none", "granted", "active", "paused"]
ConsentReason = Literal[
    "startup",
    "granted",
    "interaction_started",
    "withdrawn",
    "timeout",
    "left",
    "ended",
    "staff_pause",
    "staff_resume",
]
ConsentSource = Literal["kiosk", "staff", "mqtt", "system"]


class WireModel(BaseModel):
    """Strict, immutable: an unexpected field is a bug, never silently published."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_serialization_defaults_required=True,
    )

    def to_json(self) -> bytes:
        """The wire form: compact UTF-8 JSON with the `schema` alias."""
        return self.model_dump_json(by_alias=True).encode("utf-8")


class Payload(WireModel):
    """Every published payload: its schema name, a unique id and a coarse time."""

    id: EventId
    time: CoarseTime
