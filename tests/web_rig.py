"""A kiosk for web tests: the real engine, actions, publisher and service, fed scripted faces.

Perception is scripted (`ScriptedFaces` stands in for the face path inside the real
`PipelineRunner`), so the consent gate, engine, alerts, publisher and MQTT are all real and
time is the rig's own clock: an angry minute replays in milliseconds.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.app import EdgeService
from edge.config import EdgeConfig, load_secrets
from edge.config.web import WebConfig
from edge.consent.ledger import ConsentLedger
from edge.events.topics import Leaf
from edge.pipeline.actions import KioskActions
from edge.pipeline.publishing import OutputPublisher
from edge.pipeline.runner import PipelineRunner
from edge.types import FaceReading, VideoFrame
from edge.web.app import create_app
from edge.web.hub import EventHub
from edge.web.server import WebServer
from edge.web.service import open_store
from edge.web.store_link import StoreLink
from tests.broker import Mosquitto
from tests.collector import Collector
from tests.conftest import make_config
from tests.test_commands import _start_rig
from tests.test_mood_pipeline_engine import STEP_S, engine, face

TOKEN = "staff-token-0123456789abcdef"
_NS = 1_000_000_000


class ScriptedFaces:
    """The face path's place in the runner: one face of `label` per frame, or none."""

    def __init__(self) -> None:
        self.label: str | None = None

    def process(self, _frame: VideoFrame) -> list[FaceReading]:
        return [face(self.label)] if self.label else []

    def reset(self) -> None:
        """Nothing kept per person."""


@dataclass
class MemorySurvey:
    """A `SurveySink` that keeps answers for assertions."""

    answers: list[tuple[str, int]] = field(default_factory=list)

    def record(self, interaction_id: str, answer: int) -> None:
        self.answers.append((interaction_id, answer))


def _named(config: EdgeConfig, device_id: str) -> EdgeConfig:
    """`config` for another device of the same site (validated again)."""
    return EdgeConfig.model_validate(config.model_dump() | {"device_id": device_id})


class Kiosk:
    """Everything behind the pages, built like `build_pipeline` does, minus real perception.

    With a broker, `device_id` names it and `command_key` lets it take signed commands (the
    pipeline's too, `ack` included); `web={"store_view": True, ...}` follows the site's other
    devices through a real `StoreLink`, as `start_web` would.
    """

    def __init__(
        self,
        tmp_path: Path,
        broker: Mosquitto | None = None,
        device_id: str = "kiosk-3",
        command_key: bytes | None = None,
        **web: Any,
    ) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.now_s = 0.0
        self.engine = engine()
        self.faces = ScriptedFaces()
        self.alerts: Collector | None = None
        # The pages need no model: an empty manifest keeps these tests independent of
        # model files that other work may be replacing.
        models = tmp_path / "models"
        models.mkdir()
        (models / "manifest.toml").write_text("[models]\n")
        device: dict[str, Any] = {"models": {"dir": str(models)}}
        if command_key is not None:
            (tmp_path / "command.key").write_bytes(command_key)
            device["commands"] = {"key_file": str(tmp_path / "command.key")}
        if broker is not None:
            config = _named(make_config(tmp_path, broker.port, **device), device_id)
            rig = _start_rig(broker, config)
            self.service, self._rig = rig.service, rig
            self.alerts = rig.results
        else:
            config = _named(make_config(tmp_path, None, **device), device_id)
            self.service, self._rig = EdgeService(config, load_secrets(config)), None
            self.service.start()
        self.publisher = OutputPublisher(
            self.service, ConsentLedger(tmp_path / "ledger.jsonl"), time.time
        )
        self.actions = KioskActions(self.engine, self.publisher, now_mono_s=lambda: self.now_s)
        self.runner = PipelineRunner(
            self.engine,
            self.publisher,
            self.faces,
            None,
            lock=self.actions.lock,  # type: ignore[arg-type]
        )
        for spec in self.actions.command_specs():
            self.service.commands.register(spec)
        self.survey = MemorySurvey()
        self.config = WebConfig(enabled=True, port=0, **web)
        store = open_store(self.config, (config, load_secrets(config)))
        self.hub = EventHub(store=store[0] if store else None)
        self.publisher.add_listener(self.hub.listener)
        self.store: StoreLink | None = None
        if store is not None:
            self.store = StoreLink(
                config, load_secrets(config), store[0].filters, self.hub, store[1]
            )
            self.store.start()
        self.server: WebServer | None = None
        self._frames = 0

    def app(self) -> Any:
        """A fresh app around the same actions and hub."""
        return create_app(
            self.actions, self.hub, self.config, token=TOKEN, survey=self.survey, store=self.store
        )

    def serve(self, port: int = 0) -> str:
        """Start serving (again); the base URL."""
        self.server = WebServer(self.app(), self.hub, self.config, port=port)
        self.server.start()
        return f"http://127.0.0.1:{self.server.port}"

    def stop_server(self) -> int:
        """Stop serving (a restart, as the service would); the port it used."""
        assert self.server is not None
        port = self.server.port
        self.server.stop()
        self.server = None
        return port

    def feed(self, label: str | None, steps: int) -> None:
        """`steps` camera frames (STEP_S apart) through the gate; faces of `label` if admitted."""
        self.faces.label = label
        for _ in range(steps):
            self.now_s += STEP_S
            self._frames += 1
            image = np.zeros((4, 4, 3), np.uint8)
            self.runner.on_frame(VideoFrame(image, int(self.now_s * _NS), self._frames))

    def alert_payloads(self) -> list[dict[str, Any]]:
        """Alert payloads that reached the broker."""
        assert self.alerts is not None
        topic = self.service.topics.leaf(Leaf.ALERT)
        return [m.json() for m in self.alerts.snapshot(topic)]

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.store is not None:
            self.store.stop()
        self.publisher.close()
        if self._rig is not None:
            self._rig.close()
        else:
            self.service.shutdown()
