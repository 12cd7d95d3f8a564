"""The configuration tree: one strict pydantic model, validated once at start.

Secrets never live here: fields only name *files* (or systemd credentials) that hold them,
see `edge.config.secrets`.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from edge.config.audio import AudioConfig, VadConfig
from edge.config.base import StrictModel
from edge.config.camera import CameraConfig, FaceConfig
from edge.config.ids import TopicId
from edge.config.metrics import MetricsConfig
from edge.config.mood import EngineConfig
from edge.config.web import WebConfig

__all__ = ["EdgeConfig", "StrictModel"]


class TlsConfig(StrictModel):
    """TLS towards the broker. On by default, with server certificate verification."""

    enabled: bool = Field(default=True, description="Use TLS for the broker connection.")
    ca_file: Path | None = Field(
        default=None,
        description="PEM CA bundle that signs the broker certificate; None uses the system CAs.",
    )
    client_cert_file: Path | None = Field(
        default=None, description="PEM client certificate for mutual TLS (optional)."
    )
    client_key_file: Path | None = Field(
        default=None,
        description="PEM client private key; falls back to the credential 'mqtt_client_key'.",
    )

    @model_validator(mode="after")
    def _key_needs_cert(self) -> "TlsConfig":
        if self.client_key_file is not None and self.client_cert_file is None:
            raise ValueError("client_key_file is set but client_cert_file is not")
        return self


class MqttConfig(StrictModel):
    """Broker connection. With no host the service runs and keeps events in the outbox."""

    host: str | None = Field(
        default=None,
        min_length=1,
        description="Broker host name or address; None keeps every event in the local outbox.",
    )
    port: int = Field(default=8883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(default=None, min_length=1, description="Broker user name.")
    password_file: Path | None = Field(
        default=None,
        description="File holding the broker password; falls back to the credential "
        "'mqtt_password'.",
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="MQTT client id; defaults to 'moodsense-<site>-<device>'.",
    )
    topic_prefix: str = Field(
        default="moodsense/v1",
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="Prefix of every topic; the contract's major version is part of it.",
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive, seconds.")
    reconnect_min_s: float = Field(default=1.0, gt=0, le=60, description="First retry delay.")
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600, description="Longest delay.")
    tls: TlsConfig = Field(default_factory=TlsConfig)

    @model_validator(mode="after")
    def _check_backoff(self) -> "MqttConfig":
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class OutboxConfig(StrictModel):
    """The durable on-disk queue between the pipeline and the broker."""

    path: Path | None = Field(
        default=None, description="SQLite file; defaults to <state_dir>/outbox.sqlite3."
    )
    max_events: int = Field(
        default=100_000,
        ge=100,
        le=10_000_000,
        description="Bound on stored events; when full the oldest are dropped and counted.",
    )
    sync: Literal["full", "normal"] = Field(
        default="full",
        description="'full' fsyncs every batch (survives power loss); 'normal' survives a "
        "process crash only.",
    )
    batch_max: int = Field(
        default=500, ge=1, le=10_000, description="Most events written in one transaction."
    )
    inflight_max: int = Field(
        default=1000,
        ge=1,
        le=20_000,
        description="Most events handed to the MQTT client and not yet acknowledged.",
    )


class CommandsConfig(StrictModel):
    """Remote commands on cmd/<name>: signed with HMAC-SHA256, on top of broker ACLs."""

    enabled: bool = Field(default=True, description="Subscribe to commands at all.")
    key_file: Path | None = Field(
        default=None,
        description="File with the shared HMAC key; falls back to the credential "
        "'command_key'. Without a key every command is refused.",
    )
    max_payload_bytes: int = Field(
        default=4096, ge=256, le=65536, description="Larger command payloads are refused."
    )
    max_clock_skew_s: float = Field(
        default=120.0, gt=0, le=3600, description="Accepted age of a command's issued_at."
    )


class HealthConfig(StrictModel):
    """Periodic health metrics on the health topic."""

    interval_s: float = Field(default=30.0, ge=1.0, le=3600.0, description="Publish period.")


class ModelsConfig(StrictModel):
    """Where the TFLite models and their manifest live, and how they run."""

    dir: Path | None = Field(
        default=None, description="Directory with manifest.toml; defaults to the repo's models/."
    )
    num_threads: int = Field(
        default=1, ge=1, le=4, description="Interpreter threads per model (1 leaves room)."
    )


class ConsentConfig(StrictModel):
    """Consent handling. `notice` relies on posted notices instead of per-person opt-in: that
    is the operator's legal decision, so it is off by default (see docs/privacy.md)."""

    mode: Literal["opt_in", "notice"] = Field(default="opt_in")
    grant_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="A consent nobody uses expires after this."
    )
    max_interaction_s: float = Field(
        default=900.0, gt=0, le=14_400, description="An interaction ends after this at most."
    )


class InputsConfig(StrictModel):
    """Which live devices to use; a missing one is reported and the service keeps running."""

    camera: bool = True
    microphone: bool = True


class LoggingConfig(StrictModel):
    """Log output (journald picks up stderr under systemd)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class EdgeConfig(BaseSettings):
    """Root of the configuration file. Environment variables override it:
    `MOODSENSE_MQTT__HOST=broker.local` sets `mqtt.host`."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix="MOODSENSE_",
        env_nested_delimiter="__",
        # MOODSENSE_DATA and friends are not config: only known fields are read.
        env_ignore_empty=True,
    )

    site_id: TopicId = Field(default="default-site", description="Store or site id.")
    device_id: TopicId = Field(default="kiosk-1", description="Device id, unique per site.")
    state_dir: Path | None = Field(
        default=None,
        description="Writable state (outbox, consent ledger); defaults to $STATE_DIRECTORY "
        "or ~/.local/state/moodsense.",
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    commands: CommandsConfig = Field(default_factory=CommandsConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    inputs: InputsConfig = Field(default_factory=InputsConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)
    face: FaceConfig = Field(default_factory=FaceConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    vad: VadConfig = Field(default_factory=VadConfig)
    consent: ConsentConfig = Field(default_factory=ConsentConfig)
    mood: EngineConfig = Field(default_factory=EngineConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then the YAML values passed in as init kwargs."""
        return (env_settings, init_settings)
