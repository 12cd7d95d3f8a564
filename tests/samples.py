"""Example payloads of every type, built with the same models and helpers the code uses."""

import time

from edge.events.base import Payload
from edge.events.ids import coarse_utc, new_event_id, new_random_id
from edge.events.mood_payloads import (
    CategoryProbabilities,
    ModalityUse,
    MoodPayload,
)


def _stamp() -> dict[str, str]:
    return {"id": new_event_id(), "time": coarse_utc(time.time())}


def mood(interaction_id: str | None = None, t_rel_s: float = 1.0) -> MoodPayload:
    return MoodPayload(
        **_stamp(),
        interaction_id=interaction_id or new_random_id(),
        t_rel_s=t_rel_s,
        state="frustrated",
        categories=CategoryProbabilities(
            neutral=0.1,
            happy=0.05,
            sad=0.1,
            angry=0.6,
            fearful=0.05,
            disgusted=0.05,
            surprised=0.05,
        ),
        valence=-0.6,
        arousal=0.7,
        confidence=0.8,
        voice=ModalityUse(present=True, weight=0.4),
        face=ModalityUse(present=True, weight=0.6),
    )


def event_payloads() -> list[Payload]:
    """Every event/state payload type, produced by the real stages and the privacy builder."""
    from edge.config.mood import AlertRule, FusionWeights, SmoothingConfig, StateThresholds
    from edge.consent.gate import ConsentGate
    from edge.mood.alerts import AlertEngine
    from edge.mood.baseline import BaselineSketch
    from edge.mood.fusion import fuse
    from edge.mood.interaction import InteractionRecorder
    from edge.mood.smoothing import MoodSmoother
    from edge.privacy import anonymize
    from tests.test_mood_engine import scores

    wall = time.time()
    gate, recorder = ConsentGate(), InteractionRecorder(sample_period_s=0.5)
    smoother = MoodSmoother(SmoothingConfig(tau_s=1, warmup_s=1, hold_s=1), StateThresholds())
    alerts = AlertEngine(AlertRule(hold_s=2, update_every_s=2), BaselineSketch())
    payloads: list[Payload] = [anonymize.consent_payload(gate.start(0.0), wall)]
    gate.grant("kiosk", 0.0)
    started = gate.person_present(0.0)
    assert started is not None and started.interaction_id is not None
    interaction = started.interaction_id
    payloads += [anonymize.consent_payload(started, wall)]
    payloads += [anonymize.interaction_start_payload(started, wall)]
    recorder.start(0.0)
    for step, label in enumerate(["angry"] * 30 + ["happy"] * 20):
        now = 0.5 * step
        mood = smoother.process(fuse(scores(label, 0.8), scores(label), FusionWeights()), now)
        assert mood is not None
        recorder.add(mood)
        payloads.append(anonymize.mood_payload(mood, interaction, now, wall))
        event = alerts.process(mood)
        if event is not None:
            payloads.append(anonymize.alert_payload(event, interaction, wall))
    summary = recorder.summary(25.0)
    payloads.append(anonymize.interaction_end_payload(interaction, "opt_in", "left", summary, wall))
    payloads.append(anonymize.survey_payload(interaction, 4, wall))
    return payloads
