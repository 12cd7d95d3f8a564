"""Prometheus `/metrics` on loopback: the numbers of the `health` payload, read at scrape time.

One collector turns a `HealthPayload` into metric families (prefix `moodsense_`, base units:
seconds, bytes, Celsius), so `/metrics` and the `health` topic can never disagree. It runs on
its own loopback-only listener (prometheus_client's WSGI server), apart from the web pages,
which may be opened to the store LAN.
"""

import logging
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector, CollectorRegistry

from edge.config.metrics import MetricsConfig
from edge.events.state_payloads import FaceQualityHealth, HealthPayload, SourceHealth

logger = logging.getLogger(__name__)

_MB = 1024 * 1024
_SOURCE_LABELS = ["source", "kind"]


def _gauge(name: str, doc: str, value: float | None) -> Iterator[Metric]:
    """A single-sample gauge, or nothing when the value is unknown (absent, not zero)."""
    if value is not None:
        yield GaugeMetricFamily(f"moodsense_{name}", doc, value=value)


def _counter(name: str, doc: str, value: int) -> Metric:
    return CounterMetricFamily(f"moodsense_{name}", doc, value=value)


def _source_metrics(sources: list[SourceHealth]) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "moodsense_source_up", "1 while the source delivers", labels=_SOURCE_LABELS
    )
    rate = GaugeMetricFamily(
        "moodsense_source_rate_hz", "Frames or chunks delivered per second", labels=_SOURCE_LABELS
    )
    dropped = CounterMetricFamily(
        "moodsense_source_dropped", "Frames or chunks skipped as stale", labels=_SOURCE_LABELS
    )
    for source in sources:
        labels = [source.name, source.kind]
        up.add_metric(labels, 1.0 if source.state == "ok" else 0.0)
        rate.add_metric(labels, source.rate_hz)
        dropped.add_metric(labels, source.dropped_total)
    yield from (up, rate, dropped)


def _face_metrics(faces: FaceQualityHealth) -> Iterator[Metric]:
    yield _counter("faces_scored", "Faces that passed the quality gate", faces.scored_total)
    unknown = CounterMetricFamily(
        "moodsense_faces_unknown", "Faces the quality gate refused", labels=["reason"]
    )
    for field, count in faces.model_dump(exclude={"scored_total"}).items():
        unknown.add_metric([field.removesuffix("_total")], count)
    yield unknown


def health_metrics(health: HealthPayload) -> Iterator[Metric]:
    """Every number of `health` as a Prometheus metric family."""
    yield from _gauge("uptime_seconds", "Seconds since the service started", health.uptime_s)
    outbox = health.outbox
    yield from _gauge("outbox_depth", "Events stored, not yet acknowledged", outbox.depth)
    yield _counter("outbox_dropped", "Oldest events dropped (outbox full)", outbox.dropped_total)
    yield from _gauge(
        "outbox_oldest_age_seconds", "Age of the oldest undelivered event", outbox.oldest_age_s
    )
    yield _counter(
        "outbox_recovered_corrupt",
        "Corrupt outbox files moved aside",
        outbox.recovered_corrupt_total,
    )
    yield from _gauge(
        "mqtt_connected", "1 while connected to the broker", float(health.mqtt.connected)
    )
    yield _counter("mqtt_reconnects", "Reconnections to the broker", health.mqtt.reconnects_total)
    yield _counter("mqtt_rejected", "Publishes the broker refused", health.mqtt.rejected_total)
    yield _counter("commands_accepted", "Commands carried out", health.commands.accepted_total)
    yield _counter("commands_refused", "Commands refused", health.commands.refused_total)
    yield from _source_metrics(health.sources)
    if health.pipeline is not None:
        pipeline = health.pipeline
        yield from _gauge("pipeline_fps", "Frames processed per second", pipeline.fps)
        for quantile, ms in (("p50", pipeline.latency_p50_ms), ("p95", pipeline.latency_p95_ms)):
            yield from _gauge(
                f"pipeline_latency_{quantile}_seconds",
                f"Capture-to-done latency, {quantile} of recent frames",
                None if ms is None else ms / 1000.0,
            )
        yield _counter("pipeline_frames", "Frames processed", pipeline.frames_total)
        if pipeline.faces is not None:
            yield from _face_metrics(pipeline.faces)
    yield from _gauge("cpu_temperature_celsius", "SoC temperature", health.cpu_temperature_c)
    yield from _gauge("cpu_load1", "System 1-minute load average", health.cpu_load_1m)
    yield from _gauge(
        "process_cpu_percent", "CPU use of this service, % of one core", health.process_cpu_percent
    )
    yield from _gauge(
        "resident_memory_bytes",
        "Resident memory of this service",
        None if health.rss_mb is None else health.rss_mb * _MB,
    )
    if health.throttling is not None:
        flags = GaugeMetricFamily(
            "moodsense_throttled", "Raspberry Pi throttling flags (1: set)", labels=["flag"]
        )
        for name, value in health.throttling.model_dump(exclude={"raw"}).items():
            flags.add_metric([name], float(value))
        yield flags


class HealthCollector(Collector):
    """Builds the metrics from a fresh health snapshot on every scrape."""

    def __init__(self, snapshot: Callable[[], HealthPayload]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client for each scrape."""
        yield from health_metrics(self._snapshot())


class MetricsServer:
    """The loopback listener; a port that cannot be bound is logged, never fatal."""

    def __init__(self, config: MetricsConfig, snapshot: Callable[[], HealthPayload]) -> None:
        self._config = config
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(HealthCollector(snapshot))
        self._server: WSGIServer | None = None
        self.port: int | None = None
        """The port bound, once started (useful with port 0)."""

    def start(self) -> None:
        """Listen on `config.host:config.port` in a daemon thread."""
        try:
            server, _thread = start_http_server(
                self._config.port, addr=self._config.host, registry=self.registry
            )
        except OSError as exc:
            # Metrics are an aid, not the product: the kiosk runs on without them.
            logger.warning(
                "Metrics not served on %s:%d: %s", self._config.host, self._config.port, exc
            )
            return
        self._server = server
        self.port = int(server.server_port)
        logger.info("Metrics served on http://%s:%d/metrics", self._config.host, self.port)

    def stop(self) -> None:
        """Stop listening and free the port."""
        server = self._server
        if server is None:
            return
        self._server = None
        server.shutdown()
        server.server_close()
