"""Payloads of the event topics the CX backend acts on: mood, interaction, alert."""

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from edge.events.base import (
    CoarseTime,
    ConsentMode,
    MoodState,
    NonNegative,
    Payload,
    RandomId,
    SignedUnit,
    UnitInterval,
    WireModel,
)


class CategoryProbabilities(WireModel):
    """Probabilities over the canonical categories (they sum to 1)."""

    neutral: UnitInterval
    happy: UnitInterval
    sad: UnitInterval
    angry: UnitInterval
    fearful: UnitInterval
    disgusted: UnitInterval
    surprised: UnitInterval


class ModalityUse(WireModel):
    """How much one modality contributed to a fused estimate."""

    present: bool = Field(description="A usable reading existed in this period.")
    weight: UnitInterval = Field(description="Its share in the fusion (weights sum to 1).")


class MoodPayload(Payload):
    """Periodic smoothed mood of the active interaction."""

    schema_name: Literal["mood/1"] = Field(default="mood/1", alias="schema")
    interaction_id: RandomId
    t_rel_s: NonNegative = Field(description="Seconds since the interaction started.")
    state: MoodState
    categories: CategoryProbabilities
    valence: SignedUnit
    arousal: SignedUnit
    confidence: UnitInterval
    voice: ModalityUse
    face: ModalityUse


class Moment(WireModel):
    """A notable moment of an interaction, in time relative to its start."""

    t_rel_s: NonNegative
    state: MoodState
    intensity: UnitInterval = Field(description="How far from neutral, 0..1.")
    valence: SignedUnit


class EndState(WireModel):
    """The smoothed state at the end of an interaction."""

    state: MoodState
    valence: SignedUnit
    arousal: SignedUnit


class PeakEndSummary(WireModel):
    """What a customer remembers: the peaks and the end (Kahneman's peak-end rule)."""

    peak_negative: Moment | None
    peak_positive: Moment | None
    end: EndState
    mean_valence: SignedUnit
    trajectory: Literal["improving", "worsening", "stable", "mixed"]


class InteractionStart(Payload):
    """An interaction began (consent is active)."""

    schema_name: Literal["interaction/1"] = Field(default="interaction/1", alias="schema")
    phase: Literal["start"] = "start"
    interaction_id: RandomId
    consent_mode: ConsentMode


class InteractionEnd(Payload):
    """An interaction ended; carries the peak-end summary."""

    schema_name: Literal["interaction/1"] = Field(default="interaction/1", alias="schema")
    phase: Literal["end"] = "end"
    interaction_id: RandomId
    consent_mode: ConsentMode
    duration_s: NonNegative
    end_reason: Literal["withdrawn", "timeout", "left", "ended"]
    summary: PeakEndSummary


InteractionPayload = Annotated[InteractionStart | InteractionEnd, Field(discriminator="phase")]
INTERACTION_ADAPTER: TypeAdapter[InteractionStart | InteractionEnd] = TypeAdapter(
    InteractionPayload
)


class Acknowledgement(WireModel):
    """A staff acknowledgement; who acknowledged is deliberately not recorded."""

    time: CoarseTime
    via: Literal["tablet", "mqtt"]


class AlertPayload(Payload):
    """Alert lifecycle: `new`, then `update`s, then `end`."""

    schema_name: Literal["alert/1"] = Field(default="alert/1", alias="schema")
    alert_id: RandomId
    interaction_id: RandomId
    phase: Literal["new", "update", "end"]
    rule: str = Field(min_length=1, max_length=64, description="Rule name from the config.")
    state: MoodState
    duration_s: NonNegative = Field(description="How long the state has been beyond baseline.")
    intensity: UnitInterval
    threshold: UnitInterval = Field(description="The site baseline quantile that was exceeded.")
    message: str = Field(max_length=200, description="Short text for staff screens.")
    acknowledged: Acknowledgement | None
    end_reason: Literal["recovered", "interaction_ended", "expired"] | None


class SurveyPayload(Payload):
    """A customer's own answer to "How do you feel now?" after an interaction (self-report),
    so the backend can compare sensed and stated mood."""

    schema_name: Literal["survey/1"] = Field(default="survey/1", alias="schema")
    interaction_id: RandomId
    scale: Literal["faces5"] = Field(default="faces5", description="Five faces, sad to happy.")
    answer: int = Field(ge=1, le=5, description="1 very unhappy ... 5 very happy.")
