"""Settings of the mood engine's stages: fusion, smoothing, states, alerts, interactions.

Each stage receives its own sub-model; defaults are the documented, tested behaviour.
"""

from pydantic import Field

from edge.config.base import StrictModel


class FusionWeights(StrictModel):
    """Priors per modality, before confidences (face carries valence better than voice)."""

    voice: float = Field(default=0.4, ge=0, le=1)
    face: float = Field(default=0.6, ge=0, le=1)


class SmoothingConfig(StrictModel):
    """Time constants in seconds."""

    tau_s: float = Field(default=3.0, gt=0, le=60, description="EMA time constant.")
    warmup_s: float = Field(default=2.0, ge=0, le=60, description="Only `unknown` before this.")
    hold_s: float = Field(default=2.0, ge=0, le=60, description="A new state must last this.")
    max_gap_s: float = Field(default=5.0, gt=0, le=600, description="No reading: `unknown`.")


class StateThresholds(StrictModel):
    """Where the CX states begin (see edge/mood/states.py)."""

    positive_valence: float = Field(default=0.25, ge=-1, le=1)
    negative_valence: float = Field(default=-0.20, ge=-1, le=1)
    activated_arousal: float = Field(default=0.20, ge=-1, le=1)
    min_confidence: float = Field(default=0.30, ge=0, le=1)


class AlertRule(StrictModel):
    """Thresholds and times (seconds) of the sustained-negative alert rule."""

    name: str = Field(default="negative_sustained", min_length=1, max_length=64)
    quantile: float = Field(default=0.9, gt=0, lt=1, description="Baseline quantile to exceed.")
    floor: float = Field(default=0.3, ge=0, le=1, description="Never alert below this intensity.")
    hold_s: float = Field(default=10.0, ge=0, le=600)
    clear_margin: float = Field(default=0.05, ge=0, le=1)
    clear_s: float = Field(default=5.0, ge=0, le=600)
    update_every_s: float = Field(default=10.0, gt=0, le=600)
    cooldown_s: float = Field(default=60.0, ge=0, le=3600)


class TrajectoryRule(StrictModel):
    """Thresholds for the coarse trajectory of an interaction, in valence units."""

    change: float = Field(default=0.15, gt=0, le=2, description="Last third vs first third.")
    spread: float = Field(default=0.35, gt=0, le=2, description="Std above which it is mixed.")


class AttributionConfig(StrictModel):
    """Whose voice it is: mouth-opening threshold (fraction of face height) and memory."""

    speaking_mouth_open: float = Field(default=0.04, ge=0, le=1)
    history_frames: int = Field(default=15, ge=1, le=300)


class EngineConfig(StrictModel):
    """The mood engine as a whole."""

    mood_period_s: float = Field(default=1.0, gt=0, le=60, description="Mood event rate.")
    leave_after_s: float = Field(default=5.0, gt=0, le=600, description="Customer gone: end.")
    baseline_period_s: float = Field(default=1.0, gt=0, le=60)
    voice_hold_s: float = Field(
        default=1.5, gt=0, le=10, description="A speech window counts until this long after it."
    )
    baseline_half_life_samples: float = Field(default=20_000.0, gt=0)
    fusion: FusionWeights = Field(default_factory=FusionWeights)
    smoothing: SmoothingConfig = Field(default_factory=SmoothingConfig)
    thresholds: StateThresholds = Field(default_factory=StateThresholds)
    alert: AlertRule = Field(default_factory=AlertRule)
    trajectory: TrajectoryRule = Field(default_factory=TrajectoryRule)
    attribution: AttributionConfig = Field(default_factory=AttributionConfig)
