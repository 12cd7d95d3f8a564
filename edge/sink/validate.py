"""Check one MQTT message against the contract: topic shape, JSON, and the named JSON Schema.

The validators are built from `edge.events.contract.PAYLOAD_TYPES` (the code the schema files
are generated from), so an installed sink needs no copy of docs/schemas.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from edge.config.ids import validate_topic_id
from edge.events.contract import PAYLOAD_TYPES
from edge.events.topics import COMMAND_LEVEL, RESULT_LEVEL


@dataclass(frozen=True, slots=True)
class Accepted:
    """A payload that matches its schema and belongs on its topic."""

    site_id: str
    device_id: str
    kind: str
    """Payload type name, e.g. `mood` (the part of `schema` before the slash)."""
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a message cannot be stored as an event (it goes to the dead-letter table)."""

    reason: str


def _refuse_constant(name: str) -> float:
    # NaN and Infinity are not JSON; Python would accept them and PostgreSQL's jsonb would not.
    raise ValueError(f"{name} is not valid JSON")


def _bad_time(value: Any) -> str | None:
    """The first `time` field that is not a real instant (the schema checks only its shape:
    `2026-13-45T99:00:00Z` matches the pattern but PostgreSQL would refuse the whole batch)."""
    if not isinstance(value, dict):
        return None
    for key, item in value.items():
        if key == "time" and isinstance(item, str):
            try:
                datetime.strptime(item, "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                return item
        found = _bad_time(item)
        if found is not None:
            return found
    return None


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with every local `$ref` replaced by its definition: resolving references is
    most of jsonschema's cost per message, and our payload models are not recursive."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _inline_refs(defs[node["$ref"].removeprefix("#/$defs/")], defs) | siblings
    return {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    inlined: dict[str, Any] = _inline_refs(schema, schema.get("$defs", {}))
    return Draft202012Validator(inlined)


def _expected_kind(levels: list[str]) -> str | None:
    """The payload type a topic below `<site>/<device>/` carries, or None if it has none."""
    if len(levels) == 1 and levels[0] != COMMAND_LEVEL:
        return levels[0]
    if len(levels) == 2 and levels[0] == COMMAND_LEVEL:
        return "command"
    if len(levels) == 3 and levels[0] == COMMAND_LEVEL and levels[2] == RESULT_LEVEL:
        return "command_result"
    return None


class ContractValidator:
    """Validates messages below `prefix` against the contract's JSON Schemas."""

    def __init__(self, prefix: str, max_payload_bytes: int) -> None:
        self._head = prefix + "/"
        self._max_bytes = max_payload_bytes
        self._validators = {
            payload_type.schema_name: _validator(payload_type.json_schema())
            for payload_type in PAYLOAD_TYPES
        }

    def check(self, topic: str, payload: bytes) -> Accepted | Rejected:
        """Accept the message or say why not; never raises for bad input."""
        if not topic.startswith(self._head):
            return Rejected(f"topic outside {self._head}#")
        levels = topic[len(self._head) :].split("/")
        if len(levels) < 3:
            return Rejected("topic has no <site>/<device>/<leaf>")
        site_id, device_id, rest = levels[0], levels[1], levels[2:]
        try:
            validate_topic_id(site_id)
            validate_topic_id(device_id)
        except ValueError as exc:
            return Rejected(f"bad site or device id in topic: {exc}")
        kind = _expected_kind(rest)
        if kind is None:
            return Rejected("topic is not part of the contract")
        if len(payload) > self._max_bytes:
            return Rejected(f"payload of {len(payload)} bytes exceeds {self._max_bytes}")
        return self._check_document(site_id, device_id, kind, payload)

    def _check_document(
        self, site_id: str, device_id: str, kind: str, payload: bytes
    ) -> Accepted | Rejected:
        try:
            document = json.loads(payload, parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return Rejected(f"not UTF-8 JSON: {exc}")
        if not isinstance(document, dict):
            return Rejected("not a JSON object")
        schema = document.get("schema")
        if not isinstance(schema, str) or schema not in self._validators:
            return Rejected(f"unknown schema {schema!r}"[:200])
        validator = self._validators[schema]
        if schema.split("/")[0] != kind:
            return Rejected(f"schema {schema} does not belong on a '{kind}' topic")
        error = best_match(validator.iter_errors(document))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
            return Rejected(f"{schema} invalid at {where}: {error.message}"[:500])
        bad_time = _bad_time(document)
        if bad_time is not None:
            return Rejected(f"{schema}: time {bad_time[:40]!r} is not a valid UTC time")
        return Accepted(site_id, device_id, kind, document)
