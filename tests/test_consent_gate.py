"""The consent gate: nothing is processed without consent, and consent's end clears all."""

import json
from pathlib import Path

from edge.consent.gate import ConsentGate
from edge.consent.ledger import ConsentLedger


class CountingStage:
    """Stands in for a perception stage: counts what reaches it and when it is reset."""

    def __init__(self) -> None:
        self.processed = 0
        self.resets = 0
        self.buffer: list[object] = []

    def process(self, item: object) -> None:
        self.processed += 1
        self.buffer.append(item)

    def reset(self) -> None:
        self.resets += 1
        self.buffer.clear()


def _feed(gate: ConsentGate, stage: CountingStage, count: int) -> None:
    for i in range(count):
        for admitted in (gate.admit_audio(f"chunk{i}"), gate.admit_frame(f"frame{i}")):
            if admitted is not None:
                stage.process(admitted)


def test_without_consent_nothing_reaches_perception() -> None:
    """GDPR Art. 9: biometric processing needs consent before the first sample."""
    gate, stage = ConsentGate(), CountingStage()
    gate.start(0.0)
    _feed(gate, stage, 50)
    assert stage.processed == 0
    assert (gate.counters.dropped_audio, gate.counters.dropped_frames) == (50, 50)


def test_consent_admits_media_and_the_interaction_gets_a_fresh_random_id() -> None:
    """Interaction ids must never link two visits, even of the same person."""
    gate, stage = ConsentGate(), CountingStage()
    gate.start(0.0)
    ids = []
    for visit in range(2):
        assert gate.grant("kiosk", 10.0 * visit) is not None
        change = gate.person_present(10.0 * visit + 1)
        assert change is not None and change.state == "active"
        ids.append(change.interaction_id)
        _feed(gate, stage, 5)
        gate.end("left", 10.0 * visit + 5)
    assert stage.processed == 20
    assert ids[0] != ids[1] and all(len(i or "") == 26 for i in ids)


def test_withdrawal_stops_processing_at_once_and_clears_buffers() -> None:
    """A person who withdraws must leave nothing behind, immediately."""
    gate, stage = ConsentGate(), CountingStage()
    gate.register(stage)
    gate.start(0.0)
    gate.grant("kiosk", 1.0)
    gate.person_present(2.0)
    _feed(gate, stage, 10)
    change = gate.withdraw("kiosk", 3.0)
    assert change is not None and change.reason == "withdrawn" and change.interaction_id is None
    assert stage.buffer == [] and stage.resets == 1
    _feed(gate, stage, 10)
    assert stage.processed == 20  # nothing after the withdrawal


def test_staff_pause_stops_all_scoring_until_resumed() -> None:
    """EU AI Act Art. 5(1)(f): staff must never be scored, even mid-interaction."""
    gate, stage = ConsentGate(), CountingStage()
    gate.register(stage)
    gate.start(0.0)
    gate.grant("kiosk", 1.0)
    gate.person_present(2.0)
    gate.staff_pause("staff", 3.0)
    _feed(gate, stage, 10)
    assert stage.processed == 0 and stage.resets == 1
    assert gate.grant("kiosk", 4.0) is None  # no consent can be taken while paused
    change = gate.staff_resume("staff", 5.0)
    assert change is not None and change.state == "none"


def test_unused_consent_expires_and_interactions_have_a_maximum_length() -> None:
    """Consent is for one interaction now, not an open-ended licence."""
    gate = ConsentGate(grant_timeout_s=60, max_interaction_s=300)
    gate.start(0.0)
    gate.grant("kiosk", 0.0)
    assert gate.tick(59.0) is None
    expired = gate.tick(61.0)
    assert expired is not None and (expired.state, expired.reason) == ("none", "timeout")
    gate.grant("kiosk", 100.0)
    gate.person_present(101.0)
    assert gate.tick(400.0) is None
    ended = gate.tick(402.0)
    assert ended is not None and ended.reason == "timeout"


def test_notice_mode_is_granted_whenever_staff_have_not_paused() -> None:
    """Sites relying on posted notices (the operator's legal decision) need no opt-in."""
    gate, stage = ConsentGate(mode="notice"), CountingStage()
    assert gate.start(0.0).state == "granted"
    _feed(gate, stage, 3)
    gate.staff_pause("staff", 1.0)
    _feed(gate, stage, 3)
    assert stage.processed == 6
    resumed = gate.staff_resume("staff", 2.0)
    assert resumed is not None and resumed.state == "granted"


def test_the_ledger_records_transitions_without_personal_data(tmp_path: Path) -> None:
    """Operators must be able to show when processing was allowed, and nothing more."""
    ledger = ConsentLedger(tmp_path / "consent.jsonl")
    gate = ConsentGate()
    changes = [gate.start(0.0), gate.grant("kiosk", 1.0), gate.person_present(2.0)]
    changes.append(gate.withdraw("kiosk", 3.0))
    for change in changes:
        assert change is not None
        ledger.append(change, wall_s=1_795_000_000.0)
    lines = [json.loads(line) for line in (tmp_path / "consent.jsonl").read_text().splitlines()]
    assert [line["reason"] for line in lines] == [
        "startup",
        "granted",
        "interaction_started",
        "withdrawn",
    ]
    assert set(lines[0]) == {"time", "state", "reason", "source", "mode", "interaction_id"}
