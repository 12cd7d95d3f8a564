"""Pieces of a fleet for sink tests and bench/fleet.py: sink configs, sink child processes,
virtual devices running the real device service."""

import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge.app import EdgeService
from edge.config import load_secrets
from edge.events.base import Payload
from edge.events.topics import Leaf
from edge.sink.config import SinkConfig
from tests import samples
from tests.broker import HOST
from tests.collector import wait_until
from tests.conftest import make_config

REPO = Path(__file__).resolve().parents[1]
EVENT_LEAVES = {
    "mood": Leaf.MOOD,
    "interaction": Leaf.INTERACTION,
    "alert": Leaf.ALERT,
    "survey": Leaf.SURVEY,
}


def sink_settings(port: int, dsn: str, **overrides: Any) -> dict[str, Any]:
    """The YAML content of a sink config for the test broker and database."""
    settings: dict[str, Any] = {
        "mqtt": {"host": HOST, "port": port, "tls": {"enabled": False}},
        "database": {"dsn": dsn},
        "group": "cx",
        "batch_max": 200,
        "flush_interval_s": 0.05,
    }
    return settings | overrides


def sink_config(port: int, dsn: str, **overrides: Any) -> SinkConfig:
    """A validated sink config (for an in-process sink)."""
    return SinkConfig(**sink_settings(port, dsn, **overrides))


def start_device(
    workdir: Path, port: int, site_id: str, device_id: str, **overrides: Any
) -> EdgeService:
    """A virtual device: the real service with its own client id, outbox and last will."""
    config = make_config(workdir / f"{site_id}-{device_id}", port, **overrides)
    config = config.model_copy(update={"site_id": site_id, "device_id": device_id})
    service = EdgeService(config, load_secrets(config))
    service.start()
    return service


def emit(service: EdgeService, payload: Payload) -> None:
    """Send a payload the way the device sends its kind: events via the outbox, state retained."""
    kind = payload.model_dump(by_alias=True)["schema"].split("/")[0]
    if kind in EVENT_LEAVES:
        service.emit(EVENT_LEAVES[kind], payload)
    else:
        service.publisher.set_state(service.topics.leaf(Leaf(kind)), payload.to_json())


def count(dsn: str, query: str, *params: object) -> int:
    """The single integer a query returns."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query.encode(), params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def publish_raw(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish exactly these bytes at QoS 1 (what a buggy or hostile client could send)."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(HOST, port)
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def emit_round(devices: list[EdgeService], per_device: int) -> list[str]:
    """Each device emits `per_device` mood events; returns their ids."""
    ids: list[str] = []
    for device in devices:
        for i in range(per_device):
            payload = samples.mood(t_rel_s=float(i))
            emit(device, payload)
            ids.append(payload.id)
    return ids


class SinkProcess:
    """`python -m edge.sink sink --config FILE` as a child process; stderr is collected."""

    def __init__(self, config_file: Path, settings: dict[str, Any]) -> None:
        config_file.write_text(yaml.safe_dump(settings))
        self.config_file = config_file
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> "SinkProcess":
        """Start and wait until its shared subscription is granted."""
        self.spawn()
        self.wait_ready()
        return self

    def spawn(self) -> None:
        """Start the process without waiting (start several, then `wait_ready` each)."""
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge.sink", "sink", "--config", str(self.config_file)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait for the sink's log line saying its subscription was granted."""
        wait_until(lambda: any("Subscribed" in line for line in self.lines), timeout_s)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.lines.append(line.rstrip())

    def freeze(self) -> None:
        """SIGSTOP: it stays connected but neither reads nor acknowledges anything."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        """SIGKILL: no flush, no acknowledgement, no clean disconnect."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait (the sink writes and acknowledges what it holds)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
