"""Configuration: strict validation, environment overrides, secrets only from files."""

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.config import ConfigError, EdgeConfig, load_config, load_secrets
from edge.events.topics import Topics

BAD_IDS = ["", "store+1", "store#", "a/b", "tab\there", "nul\x00", "$SYS", "-lead", "x" * 65]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    return path


def test_defaults_need_no_file_and_no_broker() -> None:
    """The quickstart runs the service with no config file at all."""
    config = load_config(None)
    assert config.mqtt.host is None
    assert config.mqtt.tls.enabled is True


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_site_and_device_ids_that_would_break_topics_are_refused(bad_id: str) -> None:
    """An id with `+`, `#` or `/` would subscribe or publish outside the device's tree."""
    with pytest.raises(ValidationError):
        EdgeConfig(site_id=bad_id)
    with pytest.raises(ValidationError):
        EdgeConfig(device_id=bad_id)
    with pytest.raises(ValueError, match=r"must|may only"):
        Topics("moodsense/v1", bad_id, "kiosk-1")


def test_every_problem_is_reported_with_its_field_path(tmp_path: Path) -> None:
    """Operators fix configs from the error text alone."""
    path = _write(tmp_path, "mqtt:\n  port: 70000\n  colour: blue\ndevice_id: 'a/b'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = "\n".join(caught.value.problems)
    assert "mqtt.port: Input should be less than or equal to 65535" in problems
    assert "mqtt.colour: Extra inputs are not permitted" in problems
    assert "device_id: must not contain '/'" in problems


def test_an_inline_password_is_refused_with_a_pointer_to_the_file_way(tmp_path: Path) -> None:
    """Secrets in YAML end up in backups and tickets; they are never accepted."""
    path = _write(tmp_path, "mqtt:\n  host: broker\n  password: hunter2\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any("password_file" in p and p.startswith("mqtt:") for p in caught.value.problems)
    assert "hunter2" not in str(caught.value)


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    """A broken file must point at the broken line."""
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, "mqtt:\n  host: [unclosed\n"))
    assert "line" in caught.value.problems[0]


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fleet tooling sets per-device values through the unit's environment."""
    monkeypatch.setenv("MOODSENSE_MQTT__HOST", "broker.store.lan")
    monkeypatch.setenv("MOODSENSE_DEVICE_ID", "kiosk-9")
    config = load_config(_write(tmp_path, "device_id: kiosk-1\nmqtt:\n  port: 1883\n"))
    assert (config.mqtt.host, config.mqtt.port, config.device_id) == (
        "broker.store.lan",
        1883,
        "kiosk-9",
    )


def test_capture_device_indices_from_the_environment_stay_indices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment only carries text: '2' must still select input 2, not a device whose
    name contains a 2; a name stays a name."""
    monkeypatch.setenv("MOODSENSE_AUDIO__DEVICE", "2")
    assert load_config(_write(tmp_path, "device_id: kiosk-1\n")).audio.device == 2
    monkeypatch.setenv("MOODSENSE_AUDIO__DEVICE", "USB Audio")
    assert load_config(_write(tmp_path, "device_id: kiosk-1\n")).audio.device == "USB Audio"
    monkeypatch.setenv("MOODSENSE_CAMERA__DEVICE", "1")  # `moodsense doctor` opens it as is
    assert load_config(_write(tmp_path, "device_id: kiosk-1\n")).camera.device == 1


def test_secrets_come_from_named_files_or_systemd_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd LoadCredential= is how the appliance receives secrets."""
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "mqtt_password").write_text("s3cret\n")
    (credentials / "command_key").write_bytes(b"k" * 32)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    secrets = load_secrets(EdgeConfig(mqtt={"host": "b", "username": "kiosk"}))
    assert secrets.mqtt_password == "s3cret"
    assert secrets.command_key == b"k" * 32
    assert "s3cret" not in repr(secrets)
    own = tmp_path / "pw"
    own.write_text("from-file")
    assert load_secrets(EdgeConfig(mqtt={"password_file": str(own)})).mqtt_password == "from-file"


def test_an_empty_systemd_credential_means_not_set_but_an_empty_named_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installer creates empty placeholders because systemd needs every LoadCredential= file."""
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "mqtt_password").write_text("\n")
    (credentials / "command_key").write_bytes(b"")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    secrets = load_secrets(EdgeConfig())
    assert secrets.mqtt_password is None
    assert secrets.command_key is None
    with pytest.raises(ConfigError, match=r"mqtt\.password_file: secret file is empty"):
        load_secrets(EdgeConfig(mqtt={"password_file": str(credentials / "command_key")}))


def test_a_named_secret_file_that_is_missing_is_a_config_error(tmp_path: Path) -> None:
    """Starting without the broker password would only fail later, less clearly."""
    with pytest.raises(ConfigError, match=r"mqtt\.password_file"):
        load_secrets(EdgeConfig(mqtt={"password_file": str(tmp_path / "absent")}))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=60
    )


def test_config_check_exits_0_on_a_valid_file(tmp_path: Path) -> None:
    """`moodsense config check` is what installers run before restarting the unit."""
    result = _cli("config", "check", str(_write(tmp_path, "site_id: store-7\n")))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("mqtt:\n  port: '-1'\n", "mqtt.port"),
        ("site_id: 'store#1'\n", "site_id"),
        ("outbox:\n  sync: sometimes\n", "outbox.sync"),
        ("mqtt: [1, 2]\n", "mqtt"),
        ("{unclosed\n", "(yaml)"),
    ],
)
def test_config_check_exits_2_naming_the_field_without_a_traceback(
    tmp_path: Path, text: str, field: str
) -> None:
    """A traceback hides the one line the operator needs."""
    result = _cli("config", "check", str(_write(tmp_path, text)))
    assert result.returncode == 2
    assert field in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    """A typo in the path must not look like a valid, empty config."""
    result = _cli("config", "check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "cannot read file" in result.stderr


def test_run_with_a_bad_config_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    """systemd shows the reason in `systemctl status` only if it is short and clear."""
    result = _cli("run", "--config", str(_write(tmp_path, "mqtt:\n  port: 0\n")))
    assert result.returncode == 2
    assert "mqtt.port" in result.stderr and "Traceback" not in result.stderr


def test_config_schema_prints_the_json_schema() -> None:
    """Fleet tools validate configs before shipping them."""
    import json

    result = _cli("config", "schema")
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"site_id", "device_id", "mqtt", "outbox"} <= schema["properties"].keys()


def test_the_documented_example_config_is_valid() -> None:
    """Operators copy docs/edge.example.yaml; it must stay a valid config."""
    example = Path(__file__).resolve().parents[1] / "docs" / "edge.example.yaml"
    config = load_config(example)
    assert config.mqtt.host == "broker.store.lan" and config.mqtt.tls.enabled
