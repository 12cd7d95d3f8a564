"""`moodsense replay` end to end on a scripted scenario of real faces and voices.

The scenario (tests/scenario.py): neutral 12 s -> angry 24 s -> happy 18 s, one customer, a
bystander passing during the angry part, RAVDESS test-actor speech following the script.
Timing with the default config: the smoothed state turns frustrated ~4-5 s into the angry part
(EMA tau 3 s, state hold 2 s) and the alert needs `alert.hold_s` (10 s) above threshold, so it
is due at ~26 s, 10 s before the angry part ends; it ends ~5 s into the happy part (`clear_s`).
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge.inference.registry import ModelRegistry
from tests.broker import Mosquitto
from tests.collector import Collector
from tests.scenario import Scenario, build_scenario

REPO = Path(__file__).resolve().parents[1]
EXPECTED_STATE = {"neutral": {"calm"}, "angry": {"frustrated", "upset"}, "happy": {"positive"}}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The recordings, built once for the module."""
    registry = ModelRegistry()
    if "face_expression" not in registry.specs:
        pytest.fail("models/manifest.toml has no face_expression model")
    return build_scenario(tmp_path_factory.mktemp("scenario"), registry)


def _replay(
    scenario: Scenario, tmp_path: Path, port: int, *flags: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    config = tmp_path / "edge.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, tls: {{enabled: false}}}}\n"
    )
    events = tmp_path / "events.jsonl"
    command = [sys.executable, "-m", "edge", "replay", "--video", str(scenario.video)]
    command += ["--audio", str(scenario.audio), "--config", str(config), "--events", str(events)]
    result = subprocess.run(
        [*command, *flags], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    lines = events.read_text().splitlines() if events.exists() else []
    return [json.loads(line) for line in lines], summary


def _timeline(events: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """Each event with the interaction time of the latest mood before it."""
    t, out = 0.0, []
    for event in events:
        if event["schema"] == "mood/1":
            t = event["t_rel_s"]
        out.append((t, event))
    return out


def agreement(scenario: Scenario, events: list[dict[str, Any]]) -> float:
    """Share of per-second mood events whose state matches the script (after warm-up)."""
    moods = [e for e in events if e["schema"] == "mood/1" and e["t_rel_s"] >= 3]
    hits = [e["state"] in EXPECTED_STATE[scenario.label_at(e["t_rel_s"]) or "happy"] for e in moods]
    return sum(hits) / max(1, len(hits))


def test_the_scripted_scenario_gives_one_interaction_one_alert_and_a_true_summary(
    scenario: Scenario, broker: Mosquitto, tmp_path: Path
) -> None:
    """What staff and the CX backend see must follow what happened at the kiosk."""
    collector = Collector(broker.port, "moodsense/v1/+/+/#")
    events, summary = _replay(scenario, tmp_path, broker.port, "--consent", "granted")
    interactions = [e for e in events if e["schema"] == "interaction/1"]
    assert [e["phase"] for e in interactions] == ["start", "end"]
    timeline = _timeline(events)
    alerts = [(t, e) for t, e in timeline if e["schema"] == "alert/1"]
    news = [t for t, e in alerts if e["phase"] == "new"]
    ends = [t for t, e in alerts if e["phase"] == "end"]
    assert len(news) == 1 and 12 <= news[0] <= 36, alerts
    assert len(ends) == 1 and ends[0] >= 36 - 2, alerts
    print(f"alert new at {news[0]:.0f} s, end at {ends[0]:.0f} s; angry part 12-36 s")
    end_summary = interactions[-1]["summary"]
    assert 12 <= end_summary["peak_negative"]["t_rel_s"] <= 38
    assert end_summary["end"]["state"] == "positive"
    score = agreement(scenario, events)
    print(f"per-second agreement with the script: {score:.2f}")  # for the closing note
    assert score >= 0.6
    moods_sent = sum(1 for e in events if e["schema"] == "mood/1")
    collector.wait_for(lambda m: sum(x.topic.endswith("/mood") for x in m) >= moods_sent)
    assert summary["gate"]["dropped_frames"] == 0
    # The scenario's faces are chosen to pass the gate; the passer-by is too small or turned.
    faces = summary["faces"]
    assert faces["scored_total"] >= 0.9 * sum(faces.values()), faces
    collector.close()


def test_without_consent_nothing_is_processed_or_published(
    scenario: Scenario, broker: Mosquitto, tmp_path: Path
) -> None:
    """No consent: every frame and sample is dropped before perception, nothing is sent."""
    events, summary = _replay(scenario, tmp_path, broker.port)
    assert summary["gate"]["admitted_frames"] == 0 and summary["gate"]["admitted_audio"] == 0
    assert summary["gate"]["dropped_frames"] > 700
    assert not any(summary["faces"].values())  # no face was even judged
    assert {e["schema"] for e in events} == {"consent/1"}
