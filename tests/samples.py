"""Example payloads of every type, built with the same models and helpers the code uses."""

import time

from edge.events.base import Payload
from edge.events.ids import coarse_utc, new_event_id, new_random_id
from edge.events.mood_payloads import (
    Acknowledgement,
    AlertPayload,
    CategoryProbabilities,
    EndState,
    InteractionEnd,
    InteractionStart,
    ModalityUse,
    Moment,
    MoodPayload,
    PeakEndSummary,
)
from edge.events.state_payloads import ConsentPayload


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
    """One of each event/state type the pipeline will produce."""
    interaction = new_random_id()
    summary = PeakEndSummary(
        peak_negative=Moment(t_rel_s=12.0, state="frustrated", intensity=0.8, valence=-0.7),
        peak_positive=None,
        end=EndState(state="calm", valence=0.1, arousal=-0.2),
        mean_valence=-0.2,
        trajectory="improving",
    )
    return [
        mood(interaction),
        InteractionStart(**_stamp(), interaction_id=interaction, consent_mode="opt_in"),
        InteractionEnd(
            **_stamp(),
            interaction_id=interaction,
            consent_mode="opt_in",
            duration_s=42.0,
            end_reason="left",
            summary=summary,
        ),
        AlertPayload(
            **_stamp(),
            alert_id=new_random_id(),
            interaction_id=interaction,
            phase="update",
            rule="negative_sustained",
            state="frustrated",
            duration_s=20.0,
            intensity=0.8,
            threshold=0.65,
            message="customer frustrated for 20 s",
            acknowledged=Acknowledgement(time=coarse_utc(time.time()), via="tablet"),
            end_reason=None,
        ),
        ConsentPayload(
            **_stamp(),
            state="active",
            mode="opt_in",
            interaction_id=interaction,
            reason="interaction_started",
            source="kiosk",
        ),
    ]
