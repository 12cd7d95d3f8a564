"""Kiosk actions over MQTT: the same rules as the screens, through the same code."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.app import EdgeService
from edge.config.mood import EngineConfig
from edge.consent.gate import ConsentGate
from edge.consent.ledger import ConsentLedger
from edge.events.topics import Leaf
from edge.mood.baseline import BaselineSketch
from edge.mood.engine import MoodEngine
from edge.pipeline.actions import KioskActions
from edge.pipeline.publishing import OutputPublisher
from edge.pipeline.survey import PublishingSurveySink
from tests.broker import Mosquitto
from tests.conftest import make_config
from tests.test_commands import KEY, Rig, _start_rig, sign_command


@pytest.fixture
def kiosk(broker: Mosquitto, tmp_path: Path) -> Iterator[tuple[Rig, KioskActions, Path]]:
    key_file = tmp_path / "command.key"
    key_file.write_bytes(KEY)
    config = make_config(tmp_path, broker.port, commands={"key_file": str(key_file)})
    ledger = tmp_path / "ledger.jsonl"
    built: list[KioskActions] = []

    def with_actions(service: EdgeService) -> None:
        """Wire the actions as the pipeline builder does, before the service starts."""
        gate = ConsentGate()
        engine = MoodEngine(gate, EngineConfig(), BaselineSketch())
        publisher = OutputPublisher(service, ConsentLedger(ledger), lambda: 1_795_000_000.0)
        actions = KioskActions(engine, publisher)
        for spec in actions.command_specs():
            service.commands.register(spec)
        built.append(actions)

    rig = _start_rig(broker, config, before_start=with_actions)
    yield rig, built[0], ledger
    rig.close()


def _consent_states(rig: Rig) -> list[str]:
    topic = rig.service.topics.leaf(Leaf.CONSENT)
    return [m.json()["state"] for m in rig.results.snapshot(topic)]


def test_a_signed_consent_command_grants_and_is_published_and_ledgered(kiosk) -> None:  # type: ignore[no-untyped-def]
    """Staff can start an interaction remotely; the grant is visible and recorded."""
    rig, actions, ledger = kiosk
    rig.send("consent", sign_command(rig.service.topics.command("consent"), {"action": "grant"}))
    result = rig.result("consent")
    assert result["ok"] and result["result"]["consent"] == "granted"
    rig.results.wait_for(lambda _m: "granted" in _consent_states(rig))
    assert actions.state().consent == "granted"
    assert [json.loads(line)["reason"] for line in ledger.read_text().splitlines()] == ["granted"]


def test_a_second_grant_is_refused_and_changes_nothing(kiosk) -> None:  # type: ignore[no-untyped-def]
    """Consent is for one interaction; repeating it must not reset anything."""
    rig, actions, _ledger = kiosk
    actions.consent("grant", "kiosk")  # from the kiosk screen
    rig.send("consent", sign_command(rig.service.topics.command("consent"), {"action": "grant"}))
    result = rig.result("consent")
    assert (result["ok"], result["error"]["code"]) == (False, "failed")
    assert "granted" in result["error"]["message"]


def test_staff_presence_pauses_and_blocks_consent(kiosk) -> None:  # type: ignore[no-untyped-def]
    """Staff must never be scored, whoever asks for consent meanwhile."""
    rig, actions, _ledger = kiosk
    rig.send("staff", sign_command(rig.service.topics.command("staff"), {"present": True}))
    assert rig.result("staff")["result"]["consent"] == "paused"
    rig.send("consent", sign_command(rig.service.topics.command("consent"), {"action": "grant"}))
    assert rig.result("consent")["ok"] is False
    assert actions.state().consent == "paused"


def test_acknowledging_an_unknown_alert_is_refused(kiosk) -> None:  # type: ignore[no-untyped-def]
    """A stale tablet must learn its alert is gone."""
    rig, _actions, _ledger = kiosk
    rig.send("ack", sign_command(rig.service.topics.command("ack"), {"alert_id": "0" * 26}))
    result = rig.result("ack")
    assert result["error"]["code"] == "failed" and "no open alert" in result["error"]["message"]


def test_a_survey_answer_is_published_as_survey_1(broker: Mosquitto, tmp_path: Path) -> None:
    """Sensed and stated mood can only be compared if the self-report reaches the backend."""
    rig = _start_rig(broker, make_config(tmp_path, broker.port))
    interaction = "01JD0000000000000000000000"
    PublishingSurveySink(rig.service).record(interaction, 5)
    topic = rig.service.topics.leaf(Leaf.SURVEY)
    messages = rig.results.wait_for(lambda m: any(x.topic == topic for x in m))
    survey = next(x for x in messages if x.topic == topic).json()
    assert (survey["schema"], survey["interaction_id"], survey["answer"]) == (
        "survey/1",
        interaction,
        5,
    )
    rig.close()
