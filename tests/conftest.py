"""Shared fixtures: a real Mosquitto per test and configs pointing at it."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import EdgeConfig
from tests.broker import HOST, Mosquitto


@pytest.fixture(scope="session", autouse=True)
def shared_numba_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests compare the device's features with librosa's, whose numba helpers compile once per
    session (the device itself never imports librosa)."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(tmp_path_factory.mktemp("numba")))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh broker on a free loopback port, stopped after the test."""
    instance = Mosquitto(tmp_path / "broker")
    instance.start()
    yield instance
    instance.stop()


def make_config(tmp_path: Path, port: int | None, **overrides: Any) -> EdgeConfig:
    """A config for one test: plain TCP to the test broker, state under tmp_path."""
    mqtt: dict[str, Any] = {"tls": {"enabled": False}, "reconnect_min_s": 1, "reconnect_max_s": 1}
    if port is not None:
        mqtt |= {"host": HOST, "port": port}
    mqtt |= overrides.pop("mqtt", {})
    return EdgeConfig(
        site_id="store-7",
        device_id="kiosk-3",
        state_dir=tmp_path / "state",
        mqtt=mqtt,
        **overrides,
    )
