"""Config sections for the microphone and the voice activity detector (wired in by the root)."""

from typing import Literal

from pydantic import Field, model_validator

from edge.config.base import DeviceReopen, StrictModel


class AudioConfig(DeviceReopen):
    """Microphone capture: always delivered as 16 kHz mono float32 chunks."""

    device: str | int | None = Field(
        default=None,
        description="Input device: a name (or unique part of one) or a PortAudio index; "
        "None uses the system default input. Digits alone are an index, also when they come "
        "from the environment.",
    )
    sample_rate_hz: Literal[16000] = Field(
        default=16000,
        description="Rate delivered downstream; a device that cannot open at it is resampled.",
    )
    block_ms: int = Field(default=100, ge=10, le=1000, description="Callback block, ms.")
    ring_buffer_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Audio held while the pipeline is busy, seconds; older chunks are dropped "
        "and counted beyond it.",
    )
    stall_timeout_s: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="No audio from an open stream for this long means the device is gone, s.",
    )


class VadConfig(StrictModel):
    """Voice activity detection: frame energy against an adaptive noise floor.

    Defaults were chosen on real recordings (RAVDESS, nEMO) and generated white and pink noise;
    see `edge.voice.vad` for why each one is what it is.
    """

    frame_ms: int = Field(default=20, ge=10, le=50, description="Analysis frame, ms.")
    margin_db: float = Field(
        default=10.0, ge=1, le=40, description="Speech threshold above the noise floor, dB."
    )
    hysteresis_db: float = Field(
        default=3.0, ge=0, le=20, description="How far below the threshold speech may dip, dB."
    )
    min_energy_dbfs: float = Field(
        default=-60.0, ge=-120, le=0, description="Frames quieter than this are never speech."
    )
    max_flatness: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Speech onsets need a spectral flatness below this (noise is flat).",
    )
    noise_window_s: float = Field(
        default=5.0, ge=0.5, le=60, description="The noise floor is the quietest level over it."
    )
    onset_ms: int = Field(default=60, ge=0, le=1000, description="Speech-like audio to start.")
    hangover_ms: int = Field(default=300, ge=0, le=3000, description="Silence to end speech.")
    # 2.5 s: the voice model's input window (models/cards/voice_emotion.md).
    window_ms: int = Field(default=2500, ge=200, le=30000, description="Analysis window, ms.")
    hop_ms: int = Field(default=1000, ge=100, le=30000, description="Window hop, ms.")
    min_speech_ratio: float = Field(
        default=0.3, gt=0, le=1, description="Share of speech frames for a speech window."
    )
    noise_floor_dbfs: float | None = Field(
        default=None,
        ge=-120,
        le=0,
        description="Calibrated noise floor, dBFS; the online floor never goes below it. "
        "None: adapt online only.",
    )

    @model_validator(mode="after")
    def _frame_multiples(self) -> "VadConfig":
        for name in ("window_ms", "hop_ms", "onset_ms", "hangover_ms"):
            if getattr(self, name) % self.frame_ms:
                raise ValueError(f"{name} must be a multiple of frame_ms ({self.frame_ms})")
        if self.hop_ms > self.window_ms:
            raise ValueError("hop_ms must not exceed window_ms")
        return self
