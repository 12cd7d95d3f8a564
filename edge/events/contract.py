"""The MQTT contract as data: each payload type, its topic leaf, retention and JSON Schema.

`docs/schemas/*.schema.json` are generated from here (`moodsense contract export docs`) and a
test keeps the committed files, the AsyncAPI document and this table in step.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

from edge.events.command_payloads import CommandRequest, CommandResultPayload
from edge.events.mood_payloads import (
    INTERACTION_ADAPTER,
    AlertPayload,
    MoodPayload,
    SurveyPayload,
)
from edge.events.state_payloads import (
    ConsentPayload,
    HealthPayload,
    InfoPayload,
    StatusPayload,
)

SCHEMA_ID_BASE = "https://moodsense.example/schemas/"


@dataclass(frozen=True, slots=True)
class PayloadType:
    """One payload type of the contract."""

    name: str
    version: int
    adapter: TypeAdapter[Any]
    direction: Literal["out", "in"]
    title: str

    @property
    def schema_name(self) -> str:
        """The value of the payload's `schema` field, e.g. `mood/1`."""
        return f"{self.name}/{self.version}"

    @property
    def file_name(self) -> str:
        """The schema file name under docs/schemas."""
        return f"{self.name}-{self.version}.schema.json"

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema (draft 2020-12) of the wire form."""
        mode: Literal["serialization", "validation"] = (
            "serialization" if self.direction == "out" else "validation"
        )
        schema = self.adapter.json_schema(mode=mode, by_alias=True)
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_ID_BASE + self.file_name,
            **schema,
            "title": self.title,
        }


PAYLOAD_TYPES: tuple[PayloadType, ...] = (
    PayloadType("status", 1, TypeAdapter(StatusPayload), "out", "Device status (retained)"),
    PayloadType("info", 1, TypeAdapter(InfoPayload), "out", "Device info (retained)"),
    PayloadType("consent", 1, TypeAdapter(ConsentPayload), "out", "Consent state (retained)"),
    PayloadType("health", 2, TypeAdapter(HealthPayload), "out", "Health metrics"),
    PayloadType("mood", 1, TypeAdapter(MoodPayload), "out", "Smoothed mood"),
    PayloadType("interaction", 1, INTERACTION_ADAPTER, "out", "Interaction start/end"),
    PayloadType("alert", 1, TypeAdapter(AlertPayload), "out", "Alert lifecycle"),
    PayloadType("survey", 1, TypeAdapter(SurveyPayload), "out", "Self-reported mood"),
    PayloadType("command", 1, TypeAdapter(CommandRequest), "in", "Signed command"),
    PayloadType("command_result", 1, TypeAdapter(CommandResultPayload), "out", "Command result"),
)


def render_schema(payload_type: PayloadType) -> str:
    """The exact text of a schema file (stable key order, trailing newline)."""
    return json.dumps(payload_type.json_schema(), indent=2, sort_keys=True) + "\n"


def export_schemas(directory: Path) -> list[Path]:
    """Write every schema file into `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for payload_type in PAYLOAD_TYPES:
        path = directory / payload_type.file_name
        path.write_text(render_schema(payload_type), encoding="utf-8")
        written.append(path)
    return written
