"""Health numbers: the `health` payload's additions, Pi throttling, and `/metrics` on loopback."""

import json
import logging
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import get_args

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from edge.app import EdgeService
from edge.config import EdgeConfig, load_secrets
from edge.config.camera import FaceConfig
from edge.config.metrics import MetricsConfig
from edge.events.state_payloads import FaceQualityHealth, SourceHealth
from edge.events.topics import Leaf
from edge.inference.registry import DEFAULT_MODELS_DIR, ModelRegistry
from edge.pipeline.build import build_face_path
from edge.pipeline.meter import PipelineMeter
from edge.system_metrics import ProcessCpuMeter, ThrottleReader, parse_throttled
from edge.types import UnknownReason
from tests import samples
from tests.broker import HOST, Mosquitto
from tests.collector import Collector, wait_until
from tests.conftest import make_config
from tests.face_clips import Placement, as_frame, compose, fer_sample

HEALTH_SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "health-2.schema.json"
ADDED = ("pipeline", "cpu_load_1m", "process_cpu_percent", "throttling")


class StillCamera:
    """A capture source that reports fixed health (the metrics only read it)."""

    def health(self) -> SourceHealth:
        return SourceHealth(
            name="cam0", kind="camera", state="reopening", rate_hz=0.0, dropped_total=7
        )


@contextmanager
def serving(service: EdgeService) -> Iterator[None]:
    """Run the started service's serve loop (which serves /metrics) until the block ends."""
    stop = threading.Event()
    loop = threading.Thread(target=service.serve, args=(stop,))
    loop.start()
    try:
        yield
    finally:
        stop.set()
        loop.join(10)
        service.shutdown()


def _port(service: EdgeService) -> int:
    """The metrics port once the serve loop has bound it."""
    metrics = service.metrics
    assert metrics is not None
    wait_until(lambda: metrics.port is not None)
    assert metrics.port is not None
    return metrics.port


def _scrape(port: int) -> dict[str, float]:
    """GET /metrics over real HTTP; every sample as `name{labels}` -> value."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as response:
        text = response.read().decode("utf-8")
    samples_by_name = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples_by_name[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples_by_name


def test_metrics_endpoint_serves_the_same_numbers_as_health(tmp_path: Path) -> None:
    """A local Prometheus agent and the CX backend must see one truth about the kiosk."""
    config = make_config(tmp_path, None, metrics={"port": 0})
    service = EdgeService(config, load_secrets(config))
    service.sources.append(StillCamera())
    meter = PipelineMeter()
    for i in range(20):  # 20 frames at 10 fps, each 40 ms behind capture
        meter.done(i * 100_000_000, i * 100_000_000 + 40_000_000)
    service.pipeline = meter
    service.start()
    with serving(service):
        for i in range(5):
            service.emit(Leaf.MOOD, samples.mood(t_rel_s=float(i)))
        assert service.publisher.flush(10)
        scraped = _scrape(_port(service))
        health = service.health()
    assert scraped["moodsense_outbox_depth"] == health.outbox.depth == 5
    assert scraped["moodsense_outbox_dropped_total"] == health.outbox.dropped_total == 0
    assert scraped["moodsense_mqtt_connected"] == 0.0
    assert scraped["moodsense_source_up{kind=camera,source=cam0}"] == 0.0
    assert scraped["moodsense_source_dropped_total{kind=camera,source=cam0}"] == 7
    assert health.pipeline is not None and health.pipeline.latency_p95_ms == 40.0
    assert scraped["moodsense_pipeline_latency_p95_seconds"] == pytest.approx(0.040)
    assert scraped["moodsense_pipeline_frames_total"] == 20
    assert scraped["moodsense_uptime_seconds"] <= health.uptime_s
    if health.cpu_load_1m is not None:
        assert "moodsense_cpu_load1" in scraped
    # Not a Raspberry Pi here: no throttling flags, and no metric pretending they are clear.
    assert health.throttling is None
    assert not any(name.startswith("moodsense_throttled") for name in scraped)


def test_metrics_listen_on_loopback_only(tmp_path: Path) -> None:
    """Kiosk internals are not for the store LAN: a non-loopback address is never bound."""
    for host in ("0.0.0.0", "192.168.1.20", "kiosk.local", "::"):
        with pytest.raises(ValidationError, match="loopback"):
            MetricsConfig(host=host)
    config = make_config(tmp_path, None, metrics={"port": 0})
    service = EdgeService(config, load_secrets(config))
    service.start()
    with serving(service):
        port = _port(service)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: just picks the LAN address
            lan_address = probe.getsockname()[0]
        if lan_address.startswith("127."):
            pytest.skip("this machine has no non-loopback address to try")
        with pytest.raises(OSError):
            socket.create_connection((lan_address, port), timeout=2).close()


def test_a_taken_metrics_port_does_not_stop_the_service(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Metrics are an aid: a port clash is logged, the kiosk keeps publishing."""
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        config = make_config(tmp_path, None, metrics={"port": taken.getsockname()[1]})
        service = EdgeService(config, load_secrets(config))
        service.start()
        with caplog.at_level(logging.WARNING), serving(service):
            wait_until(lambda: "Metrics not served" in caplog.text)
            assert service.metrics is not None and service.metrics.port is None
            assert service.emit(Leaf.MOOD, samples.mood())
            assert service.publisher.flush(10)


def test_health_carries_pipeline_load_and_throttling_and_matches_its_schema(
    tmp_path: Path,
) -> None:
    """Fields that are unknown on this board are null, never left out or faked as 0."""
    config = make_config(tmp_path, None)
    service = EdgeService(config, load_secrets(config))
    document = json.loads(service.health().to_json())
    service.publisher.stop(1)
    schema = json.loads(HEALTH_SCHEMA.read_text())
    jsonschema.validate(document, schema)
    assert set(ADDED) <= document.keys()
    assert document["pipeline"] is None  # no pipeline runs in the bare service
    del document["throttling"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_throttling_bits_are_decoded_into_named_flags() -> None:
    """Under-voltage on a kiosk explains camera drops and slow scoring; it must be visible."""
    state = parse_throttled("throttled=0x50005")
    assert state is not None and state.raw == 0x50005
    flags = state.flags()
    assert {name for name, on in flags.items() if on} == {
        "under_voltage_now",
        "throttled_now",
        "under_voltage_occurred",
        "throttled_occurred",
    }
    clear = parse_throttled("0")
    assert clear is not None and not any(clear.flags().values())
    assert parse_throttled("throttled=garbage") is None


def test_throttling_is_read_from_the_firmware_sysfs_file_or_absent(tmp_path: Path) -> None:
    """The Pi firmware driver's file is the source (hex, no 0x); elsewhere: null, no guess."""
    firmware = tmp_path / "devices" / "platform" / "soc" / "soc:firmware"
    firmware.mkdir(parents=True)
    (firmware / "get_throttled").write_text("80008\n")
    state = ThrottleReader(sysfs=tmp_path, vcgencmd=None).read()
    assert state is not None and state.flag("soft_temp_limit_now")
    assert state.flag("soft_temp_limit_occurred") and not state.flag("throttled_now")
    absent = ThrottleReader(sysfs=tmp_path / "nothing", vcgencmd=["/nonexistent/vcgencmd"])
    assert absent.read() is None


def test_process_cpu_is_averaged_over_a_window_shared_by_all_readers() -> None:
    """Frequent scrapes must not turn the CPU figure into noise or steal health's window."""
    now = {"mono": 0.0, "cpu": 0.0}
    meter = ProcessCpuMeter(window_s=5.0, cpu_s=lambda: now["cpu"], mono_s=lambda: now["mono"])
    assert meter.percent() is None
    now.update(mono=5.0, cpu=1.0)
    assert meter.percent() == pytest.approx(20.0)
    now.update(mono=6.0, cpu=2.0)  # a scrape one second later: the window is not over
    assert meter.percent() == pytest.approx(20.0)
    now.update(mono=10.0, cpu=2.0)
    assert meter.percent() == pytest.approx(20.0)  # (2.0 - 1.0) / 5 s


def test_health_on_the_wire_has_the_pipeline_numbers(broker: Mosquitto, tmp_path: Path) -> None:
    """The backend reads fps and latency from the health topic itself."""
    config = make_config(tmp_path, broker.port, metrics={"enabled": False})
    service = EdgeService(config, load_secrets(config))
    meter = PipelineMeter()
    meter.done(0, 25_000_000)
    service.pipeline = meter
    collector = Collector(broker.port, f"{service.topics.base}/health")
    service.start()
    try:
        collector.wait_for(lambda _m: service.link is not None and service.link.connected)
        service.publish_health()
        received = collector.wait_for(lambda m: len(m) >= 1)[-1].json()
    finally:
        service.shutdown()
        collector.close()
    assert received["pipeline"]["frames_total"] == 1
    assert received["pipeline"]["latency_p50_ms"] == 25.0
    assert "throttling" in received and "process_cpu_percent" in received


def test_health_and_metrics_count_why_faces_were_not_scored(tmp_path: Path) -> None:
    """Staff see `unknown` on the tablet; whoever looks after the kiosk must see why (here:
    faces too far away), in `health` and on /metrics, from the real quality gate."""
    config = make_config(tmp_path, None, metrics={"port": 0})
    near_only = EdgeConfig(face=FaceConfig(min_face_px=200))
    face_path = build_face_path(near_only, ModelRegistry(DEFAULT_MODELS_DIR))
    face = fer_sample(4)[3]  # one BlazeFace finds at all three sizes
    for i, size in enumerate((300, 240, 160)):  # detector boxes 274, 223 and 136 px
        assert len(face_path.process(as_frame(compose([Placement(face, 150, 80, size)]), i))) == 1
    service = EdgeService(config, load_secrets(config))
    service.pipeline = PipelineMeter(faces=face_path.quality_health)
    service.start()
    with serving(service):
        scraped = _scrape(_port(service))
        document = json.loads(service.health().to_json())
    jsonschema.validate(document, json.loads(HEALTH_SCHEMA.read_text()))
    assert document["pipeline"]["faces"] == {
        "scored_total": 2,
        "too_small_total": 1,
        "too_dark_total": 0,
        "too_bright_total": 0,
        "blurred_total": 0,
        "head_turned_total": 0,
    }
    assert scraped["moodsense_faces_scored_total"] == 2
    assert scraped["moodsense_faces_unknown_total{reason=too_small}"] == 1
    assert scraped["moodsense_faces_unknown_total{reason=too_dark}"] == 0
    face_path.reset()  # consent ended: tracks go, the site's counts stay
    assert face_path.quality_health().scored_total == 2


def test_every_reason_the_gate_can_give_has_its_health_counter() -> None:
    """A new refusal reason must get its field (and a new health schema), not go uncounted."""
    fields = {name.removesuffix("_total") for name in FaceQualityHealth.model_fields}
    assert fields - {"scored"} == set(get_args(UnknownReason))
