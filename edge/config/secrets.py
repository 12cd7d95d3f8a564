"""Secrets come from files or systemd credentials, never from the YAML file.

Lookup order per secret: the file named in the config, then
`$CREDENTIALS_DIRECTORY/<credential name>` (systemd `LoadCredential=`). An empty credential
counts as "not set": systemd refuses to start a unit whose `LoadCredential=` file is missing,
so the installer creates placeholders for secrets the site does not use.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from edge.config.loader import ConfigError
from edge.config.model import EdgeConfig

# Credential *names* (files under $CREDENTIALS_DIRECTORY), not secret values.
MQTT_PASSWORD_CREDENTIAL = "mqtt_password"  # noqa: S105
MQTT_CLIENT_KEY_CREDENTIAL = "mqtt_client_key"
COMMAND_KEY_CREDENTIAL = "command_key"


@dataclass(frozen=True, slots=True, repr=False)
class Secrets:
    """Loaded secret values. `repr` is disabled so they never reach a log line."""

    mqtt_password: str | None
    mqtt_client_key_file: Path | None
    command_key: bytes | None


def _credential_path(name: str) -> Path | None:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    candidate = Path(directory) / name
    if not candidate.is_file() or not candidate.read_bytes().strip():
        return None
    return candidate


def secret_path(configured: Path | None, credential: str) -> Path | None:
    """The configured secret file, else the systemd credential of that name, if present."""
    return configured if configured is not None else _credential_path(credential)


def read_secret(path: Path | None, field: str) -> bytes | None:
    """The secret in `path` (trailing newlines stripped); a missing or empty file is an error."""
    if path is None:
        return None
    try:
        # Trailing newlines come from editors and `echo`; they are never part of a secret.
        value = path.read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise ConfigError(str(path), [f"{field}: cannot read secret file: {exc.strerror}"]) from exc
    if not value:
        raise ConfigError(str(path), [f"{field}: secret file is empty"])
    return value


def load_secrets(config: EdgeConfig) -> Secrets:
    """Read every configured secret; a missing or empty named file is a `ConfigError`."""
    password = read_secret(
        secret_path(config.mqtt.password_file, MQTT_PASSWORD_CREDENTIAL), "mqtt.password_file"
    )
    command_key = read_secret(
        secret_path(config.commands.key_file, COMMAND_KEY_CREDENTIAL), "commands.key_file"
    )
    client_key = secret_path(config.mqtt.tls.client_key_file, MQTT_CLIENT_KEY_CREDENTIAL)
    if client_key is not None and not client_key.is_file():
        raise ConfigError(str(client_key), ["mqtt.tls.client_key_file: file not found"])
    return Secrets(
        mqtt_password=password.decode("utf-8") if password is not None else None,
        mqtt_client_key_file=client_key,
        command_key=command_key,
    )
