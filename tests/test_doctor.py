"""`moodsense doctor`: problems are found and each comes with a fix."""

import subprocess
import sys
from pathlib import Path

from edge.config import EdgeConfig
from edge.doctor import check_broker, check_camera, check_consent, check_state
from tests.broker import Mosquitto, free_port


def test_an_unreachable_broker_fails_with_a_fix(tmp_path: Path) -> None:
    """Installers need to know the kiosk cannot reach the broker before they leave."""
    config = EdgeConfig(mqtt={"host": "127.0.0.1", "port": free_port()}, state_dir=tmp_path)
    finding = check_broker(config)
    assert finding.status == "fail" and "mqtt.host" in finding.fix


def test_a_reachable_broker_is_ok(broker: Mosquitto, tmp_path: Path) -> None:
    """The check must not cry wolf."""
    config = EdgeConfig(mqtt={"host": "127.0.0.1", "port": broker.port}, state_dir=tmp_path)
    assert check_broker(config).status == "ok"


def test_a_missing_camera_is_a_warning_with_what_to_check(tmp_path: Path) -> None:
    """No camera is a fixable installation problem, not a crash."""
    config = EdgeConfig(camera={"device": "/dev/video-does-not-exist"}, state_dir=tmp_path)
    finding = check_camera(config)
    assert finding.status == "warn" and "camera.device" in finding.fix


def test_notice_mode_is_flagged_as_the_operators_decision(tmp_path: Path) -> None:
    """Relying on posted notices must be a deliberate, visible choice."""
    assert check_consent(EdgeConfig(consent={"mode": "notice"})).status == "warn"
    assert check_state(EdgeConfig(state_dir=tmp_path)).status == "ok"


def test_doctor_exits_1_on_a_damaged_model(tmp_path: Path) -> None:
    """A tampered model is a hard failure the installer must see."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.toml").write_text(
        '[models.face_detection]\nfile = "missing.tflite"\nsha256 = "' + "0" * 64 + '"\n'
        'version = "1"\ninput_shape = [1, 128, 128, 3]\ninput_dtype = "float32"\n'
    )
    config = tmp_path / "edge.yaml"
    config.write_text(f"models:\n  dir: {models}\nstate_dir: {tmp_path / 'state'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "edge", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "FAIL models" in result.stdout and "missing.tflite" in result.stdout
