"""Commands over a real broker: signed ones run, every other kind is refused and changes nothing."""

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.app import EdgeService
from edge.config import EdgeConfig, load_secrets
from edge.events.topics import Leaf
from tests.broker import HOST, Mosquitto
from tests.collector import Collector
from tests.conftest import make_config

KEY = b"test-command-key-0123456789abcdef"


def sign_command(
    topic: str,
    args: dict[str, Any],
    key: bytes = KEY,
    issued_at: datetime | None = None,
    nonce: str | None = None,
    request_id: str = "req-1",
) -> bytes:
    """A backend's signer, written from docs/mqtt.md rather than imported from the device."""
    issued = (issued_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    nonce = nonce or secrets.token_hex(12)
    text = json.dumps(
        {"topic": topic, "id": request_id, "issued_at": issued, "nonce": nonce, "args": args},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    document = {
        "schema": "command/1",
        "id": request_id,
        "issued_at": issued,
        "nonce": nonce,
        "args": args,
        "sig": hmac.new(key, text, hashlib.sha256).hexdigest(),
    }
    return json.dumps(document).encode()


@dataclass
class Rig:
    service: EdgeService
    results: Collector
    sender: mqtt.Client

    def send(self, name: str, payload: bytes) -> None:
        self.sender.publish(self.service.topics.command(name), payload, qos=1).wait_for_publish(5)

    def result(self, name: str, count: int = 1) -> dict[str, Any]:
        topic = self.service.topics.command_result(name)
        messages = self.results.wait_for(lambda m: len([x for x in m if x.topic == topic]) >= count)
        document: dict[str, Any] = [x for x in messages if x.topic == topic][count - 1].json()
        return document

    def close(self) -> None:
        self.sender.disconnect()
        self.sender.loop_stop()
        self.service.shutdown()
        self.results.close()


@pytest.fixture
def rig(broker: Mosquitto, tmp_path: Path) -> Iterator[Rig]:
    key_file = tmp_path / "command.key"
    key_file.write_bytes(KEY + b"\n")
    rig = _start_rig(
        broker, make_config(tmp_path, broker.port, commands={"key_file": str(key_file)})
    )
    yield rig
    rig.close()


def _start_rig(
    broker: Mosquitto, config: EdgeConfig, before_start: Callable[[EdgeService], None] | None = None
) -> Rig:
    service = EdgeService(config, load_secrets(config))
    if before_start is not None:
        before_start(service)
    results = Collector(broker.port, f"{service.topics.base}/#")
    service.start()
    # info is published after the command subscription, so commands are heard from here on.
    results.wait_for(lambda m: any(x.topic.endswith("/info") for x in m))
    sender = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sender.connect(HOST, broker.port)
    sender.loop_start()
    return Rig(service, results, sender)


def test_a_signed_command_runs_and_its_result_echoes_the_request_id(rig: Rig) -> None:
    """The backend needs to match results to requests."""
    rig.send("ping", sign_command(rig.service.topics.command("ping"), {}))
    result = rig.result("ping")
    assert result["ok"] is True and result["request_id"] == "req-1"
    assert result["result"]["pong"] is True
    assert result["schema"] == "command_result/1"


def _unsigned(topic: str) -> bytes:
    document = json.loads(sign_command(topic, {}))
    del document["sig"]
    return json.dumps(document).encode()


def _with(topic: str, **changes: Any) -> bytes:
    document = json.loads(sign_command(topic, {}))
    document.update(changes)
    return json.dumps(document).encode()


REFUSALS = {
    "unsigned": (lambda t: _unsigned(t), "unauthenticated"),
    "wrong key": (lambda t: sign_command(t, {}, key=b"another-key"), "unauthenticated"),
    "stale": (
        lambda t: sign_command(t, {}, issued_at=datetime.now(UTC) - timedelta(hours=1)),
        "unauthenticated",
    ),
    "signed for another device": (
        lambda t: sign_command(t.replace("kiosk-3", "kiosk-4"), {}),
        "unauthenticated",
    ),
    "malformed json": (lambda _t: b'{"schema": "command/1", ', "malformed_json"),
    "not utf-8": (lambda _t: b"\xff\xfe\x00", "malformed_json"),
    "not an object": (lambda _t: b"[1, 2, 3]", "invalid_request"),
    "wrong type": (lambda t: _with(t, nonce=12345), "invalid_request"),
    "oversized": (lambda t: sign_command(t, {"pad": "x" * 5000}), "too_large"),
    "unexpected argument": (lambda t: sign_command(t, {"force": True}), "invalid_args"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_command_gets_an_error_result_and_changes_nothing(rig: Rig, case: str) -> None:
    """Malformed or forged commands must never alter a kiosk, and the sender must learn why."""
    build, expected_code = REFUSALS[case]
    topic = rig.service.topics.command("publish_info")
    info_topic = rig.service.topics.leaf(Leaf.INFO)
    infos_before = len(rig.results.snapshot(info_topic))
    rig.send("publish_info", build(topic))
    result = rig.result("publish_info")
    assert (result["ok"], result["error"]["code"]) == (False, expected_code)
    assert result["result"] is None
    assert len(rig.results.snapshot(info_topic)) == infos_before
    assert (rig.service.commands.accepted_total, rig.service.commands.refused_total) == (0, 1)


def test_an_unknown_command_is_refused_by_name(rig: Rig) -> None:
    """A typo in the backend must be visible, not silently ignored."""
    rig.send("reboot_now", sign_command(rig.service.topics.command("reboot_now"), {}))
    result = rig.result("reboot_now")
    assert result["error"]["code"] == "unknown_command"


def test_a_replayed_command_is_refused(rig: Rig) -> None:
    """A captured command must not be usable twice."""
    payload = sign_command(rig.service.topics.command("ping"), {}, nonce="n" * 16)
    rig.send("ping", payload)
    rig.send("ping", payload)
    assert rig.result("ping", 1)["ok"] is True
    assert rig.result("ping", 2)["error"]["code"] == "replayed"


def test_without_a_configured_key_every_command_is_refused(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """A device that was never given a key must not fall back to trusting anyone."""
    rig = _start_rig(broker, make_config(tmp_path, broker.port))
    rig.send("ping", sign_command(rig.service.topics.command("ping"), {}))
    assert rig.result("ping")["error"]["code"] == "unauthenticated"
    rig.close()
