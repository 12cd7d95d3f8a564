"""The sink's configuration file: strict YAML, secrets only from files or systemd credentials.

The broker section is the device's own `MqttConfig` (same TLS and credential rules).
"""

import socket
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from edge.config.ids import TopicId
from edge.config.loader import ConfigError, format_validation_error, read_yaml
from edge.config.model import CommandsConfig, EdgeConfig, LoggingConfig, MqttConfig, StrictModel
from edge.config.secrets import Secrets, load_secrets, read_secret, secret_path

# Credential name (a file under $CREDENTIALS_DIRECTORY), not a secret value.
DB_PASSWORD_CREDENTIAL = "sink_db_password"  # noqa: S105


class DatabaseConfig(StrictModel):
    """PostgreSQL connection; the password never appears in the DSN or the YAML file."""

    dsn: str = Field(
        min_length=1,
        description="libpq connection string without a password, e.g. "
        "'host=db.example port=5432 dbname=cx user=moodsense_sink sslmode=verify-full'.",
    )
    password_file: Path | None = Field(
        default=None,
        description="File holding the database password; falls back to the credential "
        "'sink_db_password'; none at all relies on peer/cert auth or ~/.pgpass.",
    )
    connect_timeout_s: int = Field(default=10, ge=1, le=600, description="Connect timeout.")

    @field_validator("dsn")
    @classmethod
    def _no_inline_password(cls, value: str) -> str:
        # Parsed the way libpq parses it, so neither `password=` nor a URI's user:pw@ slips by.
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(value)
        except Exception as exc:  # psycopg raises ProgrammingError for bad syntax
            raise ValueError(f"not a valid libpq connection string: {exc}") from None
        if "password" in params:
            raise ValueError("must not contain a password: set database.password_file instead")
        return value


class SinkConfig(StrictModel):
    """Root of the sink's YAML file."""

    mqtt: MqttConfig
    group: TopicId = Field(
        default="cx-sink",
        description="Shared subscription group: sinks in one group split the messages.",
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="MQTT client id, unique per sink process and stable across restarts "
        "(the broker keeps unacknowledged messages in its session); defaults to "
        "'moodsense-sink-<group>-<hostname>'.",
    )
    session_expiry_s: int = Field(
        default=3600,
        ge=0,
        le=2**32 - 1,
        description="How long the broker keeps this sink's session (and the messages routed "
        "to it) while it is down, seconds. 0 loses in-flight messages on a crash.",
    )
    database: DatabaseConfig
    batch_max: int = Field(
        default=500, ge=1, le=10_000, description="Most events written in one transaction."
    )
    flush_interval_s: float = Field(
        default=0.1,
        gt=0,
        le=10,
        description="Longest wait for a batch to fill before it is written, seconds.",
    )
    max_payload_bytes: int = Field(
        default=65_536, ge=1024, le=16_777_216, description="Larger payloads are dead letters."
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @model_validator(mode="after")
    def _needs_broker(self) -> "SinkConfig":
        if self.mqtt.host is None:
            raise ValueError("mqtt.host is required for the sink")
        return self

    @property
    def effective_client_id(self) -> str:
        """The configured client id, or one derived from the group and host name."""
        return self.client_id or f"moodsense-sink-{self.group}-{socket.gethostname()}"

    @property
    def share_filter(self) -> str:
        """`$share/<group>/<prefix>/#`: every device, every leaf, split across the group."""
        return f"$share/{self.group}/{self.mqtt.topic_prefix}/#"


@dataclass(frozen=True, slots=True, repr=False)
class SinkSecrets:
    """Loaded secret values; `repr` is disabled so they never reach a log line."""

    mqtt: Secrets
    db_password: str | None


def load_sink_config(path: Path) -> SinkConfig:
    """Load and validate `path`; raises `ConfigError` with one line per problem."""
    data = read_yaml(path)
    try:
        return SinkConfig(**data)
    except ValidationError as exc:
        raise ConfigError(str(path), format_validation_error(exc)) from exc


def load_sink_secrets(config: SinkConfig) -> SinkSecrets:
    """Read the broker secrets exactly as the device does, plus the database password."""
    # model_construct: no validation and no MOODSENSE_* environment, only our mqtt section.
    device_view = EdgeConfig.model_construct(mqtt=config.mqtt, commands=CommandsConfig())
    mqtt_secrets = replace(load_secrets(device_view), command_key=None)
    db_password = read_secret(
        secret_path(config.database.password_file, DB_PASSWORD_CREDENTIAL), "database.password_file"
    )
    return SinkSecrets(
        mqtt=mqtt_secrets,
        db_password=db_password.decode("utf-8") if db_password is not None else None,
    )
