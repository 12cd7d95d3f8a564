"""Payloads of the retained state topics (status, info, consent) and of health."""

from typing import Literal

from pydantic import Field

from edge.events.base import (
    CoarseTime,
    ConsentMode,
    ConsentReason,
    ConsentSource,
    ConsentState,
    Count,
    NonNegative,
    Payload,
    RandomId,
    Sha256Hex,
    WireModel,
)


class StatusPayload(Payload):
    """Retained `status`. The broker publishes the `connection_lost` form as our last will."""

    schema_name: Literal["status/1"] = Field(default="status/1", alias="schema")
    state: Literal["online", "offline"]
    reason: Literal["connected", "shutdown", "connection_lost"] = Field(
        description="For `connection_lost` (the last will) `time` is when that session began."
    )


class ModelInfo(WireModel):
    """One loaded model, as verified against the manifest at start."""

    name: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)
    sha256: Sha256Hex


class InfoPayload(Payload):
    """Retained `info`: what runs on the device."""

    schema_name: Literal["info/1"] = Field(default="info/1", alias="schema")
    software_version: str
    started_at: CoarseTime
    models: list[ModelInfo]
    capabilities: list[str] = Field(description="e.g. voice, face, commands.")
    commands: list[str] = Field(description="Command names accepted on cmd/<name>.")
    config_digest: Sha256Hex = Field(description="sha256 of the effective config, no secrets.")


class ConsentPayload(Payload):
    """Retained `consent`: the current consent state, with no personal data."""

    schema_name: Literal["consent/1"] = Field(default="consent/1", alias="schema")
    state: ConsentState
    mode: ConsentMode
    interaction_id: RandomId | None
    reason: ConsentReason
    source: ConsentSource


class OutboxHealth(WireModel):
    """The durable queue towards the broker."""

    depth: Count = Field(description="Events stored and not yet acknowledged by the broker.")
    dropped_total: Count = Field(description="Oldest events dropped because the outbox was full.")
    oldest_age_s: NonNegative | None = Field(description="Age of the oldest undelivered event.")
    recovered_corrupt_total: Count = Field(description="Corrupt outbox files moved aside.")


class MqttHealth(WireModel):
    """The broker connection."""

    connected: bool
    reconnects_total: Count
    rejected_total: Count = Field(description="Publishes the broker refused (reason code).")


class CommandHealth(WireModel):
    """Remote commands since start."""

    accepted_total: Count
    refused_total: Count


class SourceHealth(WireModel):
    """One capture source (microphone, camera, or a file being replayed)."""

    name: str
    kind: Literal["microphone", "camera", "file"]
    state: Literal["ok", "reopening", "stopped"]
    rate_hz: NonNegative = Field(description="Chunks or frames per second delivered.")
    dropped_total: Count = Field(description="Overflowed chunks or frames skipped as stale.")


class FaceQualityHealth(WireModel):
    """What the quality gate decided since start, one decision per tracked face per frame:
    scored, or published as `unknown` for the reason named (a site that reads mostly
    `too_dark` needs light, not a better model)."""

    scored_total: Count = Field(description="Faces that passed the gate and were scored.")
    too_small_total: Count = Field(description="Box smaller than `face.min_face_px`.")
    too_dark_total: Count = Field(description="Face crop darker than `face.exposure_min_mean`.")
    too_bright_total: Count = Field(description="Face crop brighter than `face.exposure_max_mean`.")
    blurred_total: Count = Field(description="Sharpness under `face.blur_min_laplacian_var`.")
    head_turned_total: Count = Field(
        description="Yaw or pitch beyond `face.max_yaw_deg` / `max_pitch_deg`."
    )


class PipelineHealth(WireModel):
    """The live pipeline: how fast it turns and how far behind capture it runs."""

    fps: NonNegative = Field(
        description="Frames (audio chunks without a camera) processed per second."
    )
    latency_p50_ms: NonNegative | None = Field(
        description="Median time from capture to the end of processing, over recent frames."
    )
    latency_p95_ms: NonNegative | None = Field(description="95th percentile of the same.")
    frames_total: Count = Field(description="Frames (or chunks) processed since start.")
    faces: FaceQualityHealth | None = Field(
        description="The face quality gate's decisions; null on a kiosk without a camera."
    )


class ThrottleHealth(WireModel):
    """Raspberry Pi firmware throttling flags (`vcgencmd get_throttled`), decoded."""

    raw: Count = Field(description="The firmware's word as read; the flags below are its bits.")
    under_voltage_now: bool = Field(description="Bit 0.")
    freq_capped_now: bool = Field(description="Bit 1: ARM frequency capped.")
    throttled_now: bool = Field(description="Bit 2.")
    soft_temp_limit_now: bool = Field(description="Bit 3: soft temperature limit active.")
    under_voltage_occurred: bool = Field(description="Bit 16: since boot.")
    freq_capped_occurred: bool = Field(description="Bit 17: since boot.")
    throttled_occurred: bool = Field(description="Bit 18: since boot.")
    soft_temp_limit_occurred: bool = Field(description="Bit 19: since boot.")


class HealthPayload(Payload):
    """Periodic `health`: live metrics, sent at most once per interval, never spooled."""

    schema_name: Literal["health/2"] = Field(default="health/2", alias="schema")
    uptime_s: NonNegative
    outbox: OutboxHealth
    mqtt: MqttHealth
    commands: CommandHealth
    sources: list[SourceHealth]
    cpu_temperature_c: float | None
    rss_mb: NonNegative | None
    pipeline: PipelineHealth | None = Field(
        default=None, description="Null where no pipeline runs (e.g. the bare service)."
    )
    cpu_load_1m: NonNegative | None = Field(
        default=None, description="System 1-minute load average (runnable tasks)."
    )
    process_cpu_percent: NonNegative | None = Field(
        default=None,
        description="This service's CPU use, percent of one core, over the last >= 5 s.",
    )
    throttling: ThrottleHealth | None = Field(
        default=None, description="Raspberry Pi only; null on other boards or when unreadable."
    )
