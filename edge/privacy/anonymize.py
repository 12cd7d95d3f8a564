"""Build outgoing payloads from the engine's internal values: the only way records leave.

Everything published passes through these functions into strict payload models (unknown
fields are errors), so raw audio, frames, landmarks, embeddings or track ids cannot be
attached by accident. Times become coarse UTC; positions within an interaction are relative;
probabilities are rounded (3 decimals) so they cannot serve as a fingerprint of a face.
"""

from typing import Literal

from edge.consent.gate import ConsentChange
from edge.events.base import ConsentMode
from edge.events.ids import coarse_utc, new_event_id
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
    SurveyPayload,
)
from edge.events.state_payloads import ConsentPayload
from edge.labels import CATEGORIES
from edge.mood.alerts import AlertEvent
from edge.mood.interaction import MoodMoment, PeakEnd
from edge.mood.smoothing import SmoothedMood

_DECIMALS = 3


def _stamp(wall_s: float) -> dict[str, str]:
    return {"id": new_event_id(), "time": coarse_utc(wall_s)}


def _r(value: float) -> float:
    return round(value, _DECIMALS)


def mood_payload(
    mood: SmoothedMood, interaction_id: str, t_rel_s: float, wall_s: float
) -> MoodPayload:
    """A `mood/1` event for the active interaction."""
    total = sum(mood.probabilities.get(c, 0.0) for c in CATEGORIES) or 1.0
    categories = {c: _r(mood.probabilities.get(c, 0.0) / total) for c in CATEGORIES}
    return MoodPayload(
        **_stamp(wall_s),
        interaction_id=interaction_id,
        t_rel_s=round(max(0.0, t_rel_s), 1),
        state=mood.state,
        categories=CategoryProbabilities(**categories),
        valence=_r(mood.valence),
        arousal=_r(mood.arousal),
        confidence=_r(mood.confidence),
        voice=ModalityUse(present=mood.voice_weight > 0, weight=_r(mood.voice_weight)),
        face=ModalityUse(present=mood.face_weight > 0, weight=_r(mood.face_weight)),
    )


def interaction_start_payload(change: ConsentChange, wall_s: float) -> InteractionStart:
    """An `interaction/1` start, from the consent change that began it."""
    if change.interaction_id is None:
        raise ValueError("an interaction start needs the new interaction's id")
    return InteractionStart(
        **_stamp(wall_s), interaction_id=change.interaction_id, consent_mode=change.mode
    )


def _moment(moment: MoodMoment | None) -> Moment | None:
    if moment is None:
        return None
    return Moment(
        t_rel_s=moment.t_rel_s,
        state=moment.state,
        intensity=_r(moment.intensity),
        valence=_r(moment.valence),
    )


def interaction_end_payload(
    interaction_id: str,
    consent_mode: ConsentMode,
    end_reason: Literal["withdrawn", "timeout", "left", "ended"],
    summary: PeakEnd,
    wall_s: float,
) -> InteractionEnd:
    """An `interaction/1` end carrying the peak-end summary."""
    end = summary.end
    return InteractionEnd(
        **_stamp(wall_s),
        interaction_id=interaction_id,
        consent_mode=consent_mode,
        duration_s=summary.duration_s,
        end_reason=end_reason,
        summary=PeakEndSummary(
            peak_negative=_moment(summary.peak_negative),
            peak_positive=_moment(summary.peak_positive),
            end=EndState(
                state=end.state if end else "unknown",
                valence=_r(end.valence) if end else 0.0,
                arousal=_r(end.arousal) if end else 0.0,
            ),
            mean_valence=_r(summary.mean_valence),
            trajectory=summary.trajectory,
        ),
    )


def alert_payload(event: AlertEvent, interaction_id: str, wall_s: float) -> AlertPayload:
    """An `alert/1` lifecycle step."""
    ack = event.acknowledged
    return AlertPayload(
        **_stamp(wall_s),
        alert_id=event.alert_id,
        interaction_id=interaction_id,
        phase=event.phase,
        rule=event.rule,
        state=event.state,
        duration_s=event.duration_s,
        intensity=event.intensity,
        threshold=event.threshold,
        message=event.message,
        acknowledged=None
        if ack is None
        else Acknowledgement(time=coarse_utc(ack.wall_s), via=ack.via),
        end_reason=event.end_reason,
    )


def consent_payload(change: ConsentChange, wall_s: float) -> ConsentPayload:
    """The retained `consent/1` state."""
    return ConsentPayload(
        **_stamp(wall_s),
        state=change.state,
        mode=change.mode,
        interaction_id=change.interaction_id,
        reason=change.reason,
        source=change.source,
    )


def survey_payload(interaction_id: str, answer: int, wall_s: float) -> SurveyPayload:
    """A `survey/1` self-report for the interaction it rates."""
    return SurveyPayload(**_stamp(wall_s), interaction_id=interaction_id, answer=answer)
