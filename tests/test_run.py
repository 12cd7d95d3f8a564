"""`moodsense run`: the README's main job starts on defaults and stops cleanly."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.broker import Mosquitto
from tests.collector import Collector


def _start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge", "run", *args],
        env={**os.environ, "STATE_DIRECTORY": str(tmp_path / "state"), **(env or {})},
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(process: subprocess.Popen[str], text: str) -> list[str]:
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never logged; got {seen}")


def test_default_config_runs_without_a_broker_and_stops_on_sigterm(tmp_path: Path) -> None:
    """A fresh kiosk must start with no external service and stop cleanly under systemd."""
    process = _start(tmp_path)
    lines = _wait_for_line(process, "running as")
    assert any("No broker configured" in line for line in lines)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert (tmp_path / "state" / "outbox.sqlite3").is_file()


def test_environment_points_the_service_at_a_broker(broker: Mosquitto, tmp_path: Path) -> None:
    """Fleet tooling configures devices through the unit's environment alone."""
    watcher = Collector(broker.port, "moodsense/v1/+/+/status")
    process = _start(
        tmp_path,
        env={
            "MOODSENSE_MQTT__HOST": "127.0.0.1",
            "MOODSENSE_MQTT__PORT": str(broker.port),
            "MOODSENSE_MQTT__TLS__ENABLED": "false",
            "MOODSENSE_SITE_ID": "store-9",
        },
    )
    watcher.wait_for(lambda m: any(x.json()["state"] == "online" for x in m), timeout_s=20)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    final = watcher.wait_for(lambda m: m[-1].json()["state"] == "offline")
    assert final[-1].topic == "moodsense/v1/store-9/kiosk-1/status"
    assert final[-1].json()["reason"] == "shutdown"
    watcher.close()
