"""The MQTT contract: schema files, AsyncAPI document and the code agree, and every payload
the code produces validates against its published schema."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from edge.app import EdgeService
from edge.config import load_secrets
from edge.events.contract import PAYLOAD_TYPES, render_schema
from edge.events.topics import RETAINED_LEAVES, Leaf, Topics
from tests import samples
from tests.conftest import make_config
from tests.test_commands import sign_command

DOCS = Path(__file__).resolve().parents[1] / "docs"
ASYNCAPI_SPEC = Path(__file__).parent / "data" / "asyncapi-3.0.0.schema.json"


def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    return document


def _schema_for(document: dict[str, Any]) -> dict[str, Any]:
    name, version = document["schema"].split("/")
    schema: dict[str, Any] = json.loads(
        (DOCS / "schemas" / f"{name}-{version}.schema.json").read_text()
    )
    return schema


@pytest.mark.parametrize("payload_type", PAYLOAD_TYPES, ids=lambda t: t.name)
def test_committed_schema_files_match_the_code(payload_type: Any) -> None:
    """Consumers code against the files; they must never drift from what is sent.
    Regenerate with `moodsense contract export docs/schemas`."""
    committed = (DOCS / "schemas" / payload_type.file_name).read_text()
    assert committed == render_schema(payload_type)


def _produced_payloads(tmp_path: Path) -> list[bytes]:
    """Everything the code can publish today, built by the code itself."""
    config = make_config(tmp_path, None, commands={"key_file": str(tmp_path / "key")})
    (tmp_path / "key").write_bytes(b"k" * 32)
    service = EdgeService(config, load_secrets(config))
    topic = service.topics.command("ping")
    results = [
        service.commands.handle(topic, sign_command(topic, {}, key=b"k" * 32)),
        service.commands.handle(topic, b"{not json"),
    ]
    produced = [service.info().to_json(), service.health().to_json()]
    produced += [
        service._status(s, r) for s, r in [("online", "connected"), ("offline", "shutdown")]
    ]
    produced += [r.to_json() for r in results if r is not None]
    produced += [p.to_json() for p in samples.event_payloads()]
    produced.append(sign_command(topic, {}))
    service.publisher.stop(1)
    return produced


def test_every_payload_the_code_produces_validates_against_its_schema(tmp_path: Path) -> None:
    """A payload that breaks its schema breaks every consumer that validates."""
    produced = _produced_payloads(tmp_path)
    seen = set()
    for raw in produced:
        document = json.loads(raw)
        jsonschema.validate(document, _schema_for(document))
        seen.add(document["schema"])
    assert seen == {t.schema_name for t in PAYLOAD_TYPES}


def test_schemas_reject_extra_fields_so_raw_data_cannot_ride_along() -> None:
    """Privacy: audio, frames or person ids can't be smuggled into an event."""
    document = json.loads(samples.mood().to_json())
    document["face_crop"] = "iVBORw0KGgo="
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, _schema_for(document))
    with pytest.raises(ValidationError):
        type(samples.mood()).model_validate(document)


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    """The contract document must open in standard AsyncAPI tooling."""
    spec = json.loads(ASYNCAPI_SPEC.read_text())
    validator = jsonschema.validators.validator_for(spec)(spec)
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(_asyncapi())]
    assert errors == []


def test_the_asyncapi_document_points_at_every_schema_file() -> None:
    """Each message of the document is one payload type's schema file, and no other."""
    messages = _asyncapi()["components"]["messages"]
    refs = {m["payload"]["$ref"] for m in messages.values()}
    assert refs == {f"./schemas/{t.file_name}" for t in PAYLOAD_TYPES}
    for ref in refs:
        assert (DOCS / ref).is_file()


def test_asyncapi_addresses_and_retain_flags_match_the_topics_module() -> None:
    """Topic names and retention in the document are the ones the code uses."""
    document = _asyncapi()
    real = Topics("moodsense/v1", "SITE", "DEVICE")
    channels = document["channels"]
    for leaf in Leaf:
        address = channels[leaf.value]["address"]
        expected = real.leaf(leaf).replace("SITE", "{site}").replace("DEVICE", "{device}")
        assert address == expected
        operation = document["operations"][f"publish{leaf.value.capitalize()}"]
        assert operation["bindings"]["mqtt"]["retain"] is (leaf in RETAINED_LEAVES)
    command = real.command("NAME").replace("SITE", "{site}").replace("DEVICE", "{device}")
    assert channels["command"]["address"] == command.replace("NAME", "{command}")
    result = real.command_result("NAME").replace("SITE", "{site}").replace("DEVICE", "{device}")
    assert channels["commandResult"]["address"] == result.replace("NAME", "{command}")
