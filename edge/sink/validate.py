"""Check one MQTT message against the contract: topic shape, JSON, and the named JSON Schema.

The validators are built from `edge.events.contract.PAYLOAD_TYPES` (the code the schema files
are generated from), so an installed sink needs no copy of docs/schemas. `fastjsonschema`
compiles each schema to Python once at start: 7-28 times cheaper per message than
interpreting it with `jsonschema` (bench/sink_validate.py), whose verdicts it matches on every
payload type and about 2,500 broken variants of them (tests/test_sink_validate.py).
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fastjsonschema

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


# The wire format of every `time` field (CoarseTime); ASCII digits only, as PostgreSQL reads them.
_TIME_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)


def _bad_time(document: dict[str, Any]) -> str | None:
    """The first `time` field that is not a real instant (the schema checks only its shape:
    `2026-13-45T99:00:00Z` matches the pattern but PostgreSQL would refuse the whole batch)."""
    for key, item in document.items():
        if isinstance(item, dict):
            found = _bad_time(item)
            if found is not None:
                return found
        elif key == "time" and isinstance(item, str):
            if _TIME_SHAPE.fullmatch(item) is None:
                return item
            try:  # the shape is fixed, so this is strptime's check at a fiftieth of its cost
                datetime.fromisoformat(item)
            except ValueError:
                return item
    return None


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _inline(defs[node["$ref"].removeprefix("#/$defs/")], defs) | siblings
    return {key: _inline(value, defs) for key, value in node.items() if key != "$defs"}


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every local `$ref` replaced by its definition and no `$schema`/`$id`.

    Our payload models are not recursive, so this always terminates, and it keeps the
    keywords' meaning the same in every draft: in 2020-12 a `$ref`'s sibling keywords apply,
    in draft 7 (which fastjsonschema's generators build on) they would be ignored.
    """
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return {key: value for key, value in inlined.items() if key not in ("$schema", "$id")}


Check = Callable[[Any], Any]


def _compile(schema: dict[str, Any]) -> Check:
    # use_default=False: the validator must never add fields to the document it stores.
    # use_formats=False: in 2020-12 `format` is an annotation, as jsonschema treats it.
    return fastjsonschema.compile(schema, use_default=False, use_formats=False)


def _explanation(error: fastjsonschema.JsonSchemaValueException) -> str:
    """`where: what`, e.g. `categories/angry: must be smaller than or equal to 1.0 (got 1.5)`."""
    where = "/".join(str(part) for part in (error.path or [])[1:]) or "(top level)"
    what = (error.message or "").removeprefix(error.name or "").strip()
    if not isinstance(error.value, dict | list):
        what += f" (got {error.value!r:.40})"
    return f"{where}: {what}"


@dataclass(frozen=True, slots=True)
class _SchemaCheck:
    """One payload type's compiled check, plus one per branch of a discriminated union
    (`interaction/1`), so a rejection names the field rather than "no branch matched"."""

    check: Check
    discriminator: str | None
    branches: dict[str, Check]

    @classmethod
    def build(cls, schema: dict[str, Any]) -> "_SchemaCheck":
        inlined = inline_refs(schema)
        discriminator = schema.get("discriminator", {})
        mapping: dict[str, str] = discriminator.get("mapping", {})
        defs = schema.get("$defs", {})
        branches = {
            value: _compile(inline_refs({"$ref": ref, "$defs": defs}))
            for value, ref in mapping.items()
        }
        return cls(_compile(inlined), discriminator.get("propertyName"), branches)

    def error(self, document: dict[str, Any]) -> str | None:
        """None if `document` matches, else where and why it does not."""
        try:
            self.check(document)
        except fastjsonschema.JsonSchemaValueException as error:
            branch = self.branches.get(str(document.get(self.discriminator or "")))
            if branch is not None:
                try:  # only dead letters pay for this second pass
                    branch(document)
                except fastjsonschema.JsonSchemaValueException as detail:
                    return _explanation(detail)
            return _explanation(error)
        return None


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
        self._checks = {
            payload_type.schema_name: _SchemaCheck.build(payload_type.json_schema())
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
        if not isinstance(schema, str) or schema not in self._checks:
            return Rejected(f"unknown schema {schema!r}"[:200])
        if schema.split("/")[0] != kind:
            return Rejected(f"schema {schema} does not belong on a '{kind}' topic")
        error = self.schema_error(schema, document)
        if error is not None:
            return Rejected(f"{schema} invalid at {error}"[:500])
        bad_time = _bad_time(document)
        if bad_time is not None:
            return Rejected(f"{schema}: time {bad_time[:40]!r} is not a valid UTC time")
        return Accepted(site_id, device_id, kind, document)

    def schema_error(self, schema: str, document: dict[str, Any]) -> str | None:
        """None if `document` matches the JSON Schema named `schema` (a known one), else
        where and why it does not."""
        return self._checks[schema].error(document)
