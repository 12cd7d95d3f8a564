"""Composition root: builds the outbox, publisher, broker link and commands from the config.

Capture and perception stages plug in here as they arrive; today the service keeps the
device's MQTT presence (status, info, health, commands) and delivers submitted events.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from edge import __version__
from edge.appliance.disk_guard import DiskGuard
from edge.appliance.log_limit import flush_repeats
from edge.appliance.metrics import MetricsServer
from edge.commands.auth import CommandAuthenticator
from edge.commands.dispatcher import CommandDispatcher, CommandSpec, NoArgs
from edge.config import EdgeConfig, Secrets
from edge.config.paths import StatePaths
from edge.events.base import Payload
from edge.events.ids import coarse_utc, new_event_id
from edge.events.state_payloads import (
    CommandHealth,
    HealthPayload,
    InfoPayload,
    MqttHealth,
    OutboxHealth,
    PipelineHealth,
    SourceHealth,
    StatusPayload,
    ThrottleHealth,
)
from edge.events.topics import Leaf, Topics
from edge.inference.registry import DEFAULT_MODELS_DIR, ModelRegistry, ModelSpec
from edge.publish.mqtt_link import MqttLink
from edge.publish.outbox import Outbox
from edge.publish.publisher import DurablePublisher
from edge.system_metrics import (
    ProcessCpuMeter,
    ThrottleReader,
    cpu_temperature_c,
    load_average_1m,
    rss_mb,
)

logger = logging.getLogger(__name__)


class HealthReporter(Protocol):
    """Anything that reports a capture source's health."""

    def health(self) -> SourceHealth:
        """State, rate and drops."""
        ...


class PipelineReporter(Protocol):
    """The live pipeline's throughput and latency (`edge.pipeline.meter.PipelineMeter`)."""

    def health(self, now_ns: int) -> PipelineHealth:
        """Rate, latency percentiles and frame count at monotonic time `now_ns`."""
        ...


SHUTDOWN_TIMEOUT_S = 5.0
_TICK_S = 1.0


def config_digest(config: EdgeConfig) -> str:
    """sha256 of the effective config (it never holds secrets), for fleet drift checks."""
    return hashlib.sha256(config.model_dump_json().encode("utf-8")).hexdigest()


class EdgeService:
    """One device: its topics, outbox, publisher, broker link and command handling."""

    def __init__(
        self,
        config: EdgeConfig,
        secrets: Secrets,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.topics = Topics(config.mqtt.topic_prefix, config.site_id, config.device_id)
        self._clock = wall_clock
        self._started_s = wall_clock()
        self._started_mono = time.monotonic()
        # Verify every model before anything else: a tampered file must stop the start.
        self.registry = ModelRegistry(config.models.dir or DEFAULT_MODELS_DIR)
        self.models: list[ModelSpec] = self.registry.verify_all()
        self.outbox = Outbox(
            StatePaths.of(config).outbox, config.outbox.max_events, config.outbox.sync
        )
        self.disk_guard = DiskGuard(self.outbox)
        self.publisher = DurablePublisher(
            self.outbox,
            batch_max=config.outbox.batch_max,
            inflight_max=config.outbox.inflight_max,
            wall_clock=wall_clock,
        )
        self.commands = CommandDispatcher(
            self.topics,
            CommandAuthenticator(secrets.command_key, config.commands.max_clock_skew_s, wall_clock),
            self._command_specs(),
            config.commands.max_payload_bytes,
            self.publisher.publish_transient,
            wall_clock,
        )
        self.sources: list[HealthReporter] = []
        """Capture sources whose health goes into `health` (added by the pipeline)."""
        self.pipeline: PipelineReporter | None = None
        """The live pipeline's meter, when one runs."""
        self._cpu = ProcessCpuMeter()
        self._throttle = ThrottleReader()
        self.metrics: MetricsServer | None = None
        if config.metrics.enabled:
            self.metrics = MetricsServer(config.metrics, self.health)
        self.link: MqttLink | None = None
        if config.mqtt.host is not None:
            self.link = MqttLink(
                config.mqtt,
                secrets,
                client_id=config.mqtt.client_id or f"moodsense-{config.site_id}-{config.device_id}",
                will=(self.topics.leaf(Leaf.STATUS), self._status("offline", "connection_lost")),
                listener=self.publisher,
                max_queued=config.outbox.inflight_max * 2,
            )

    # --- payloads -----------------------------------------------------------------------

    def _status(self, state: Any, reason: Any) -> bytes:
        # For the will, `time` is this session's start: the broker sends it later, unchanged.
        return StatusPayload(
            id=new_event_id(), time=coarse_utc(self._clock()), state=state, reason=reason
        ).to_json()

    def info(self) -> InfoPayload:
        """What runs on this device (retained on `info`)."""
        return InfoPayload(
            id=new_event_id(),
            time=coarse_utc(self._clock()),
            software_version=__version__,
            started_at=coarse_utc(self._started_s),
            models=[spec.info() for spec in self.models],
            capabilities=["commands"] if self.config.commands.enabled else [],
            commands=self.commands.names if self.config.commands.enabled else [],
            config_digest=config_digest(self.config),
        )

    def health(self) -> HealthPayload:
        """A snapshot of live metrics (sent on `health`)."""
        stats = self.publisher.stats()
        link = self.link
        return HealthPayload(
            id=new_event_id(),
            time=coarse_utc(self._clock()),
            uptime_s=round(time.monotonic() - self._started_mono, 1),
            outbox=OutboxHealth(
                depth=stats.depth,
                dropped_total=stats.dropped_total + stats.ingress_dropped_total,
                oldest_age_s=None if stats.oldest_age_s is None else round(stats.oldest_age_s, 1),
                recovered_corrupt_total=int(stats.recovered_corrupt),
            ),
            mqtt=MqttHealth(
                connected=link is not None and link.connected,
                reconnects_total=max(0, link.connects_total - 1) if link else 0,
                rejected_total=stats.rejected_total,
            ),
            commands=CommandHealth(
                accepted_total=self.commands.accepted_total,
                refused_total=self.commands.refused_total,
            ),
            sources=[source.health() for source in self.sources],
            cpu_temperature_c=cpu_temperature_c(),
            rss_mb=rss_mb(),
            pipeline=self.pipeline.health(time.monotonic_ns()) if self.pipeline else None,
            cpu_load_1m=load_average_1m(),
            process_cpu_percent=self._cpu.percent(),
            throttling=self._throttling(),
        )

    def _throttling(self) -> ThrottleHealth | None:
        state = self._throttle.read()
        if state is None:
            return None
        return ThrottleHealth(raw=state.raw, **state.flags())

    # --- commands -----------------------------------------------------------------------

    def _command_specs(self) -> list[CommandSpec]:
        return [
            CommandSpec("ping", NoArgs, self._cmd_ping),
            CommandSpec("publish_info", NoArgs, self._cmd_publish_info),
            CommandSpec("publish_health", NoArgs, self._cmd_publish_health),
        ]

    def _cmd_ping(self, _args: NoArgs) -> dict[str, Any]:
        return {"pong": True, "software_version": __version__}

    def _cmd_publish_info(self, _args: NoArgs) -> dict[str, Any]:
        self.publisher.set_state(self.topics.leaf(Leaf.INFO), self.info().to_json())
        return {"published": "info"}

    def _cmd_publish_health(self, _args: NoArgs) -> dict[str, Any]:
        self.publish_health()
        return {"published": "health"}

    # --- lifecycle ----------------------------------------------------------------------

    def emit(self, leaf: Leaf, payload: Payload) -> bool:
        """Hand an event to the durable publisher (never blocks)."""
        return self.publisher.submit(self.topics.leaf(leaf), payload.to_json())

    def publish_health(self) -> None:
        """Send health now; live metrics are not spooled while offline."""
        self.publisher.publish_transient(self.topics.leaf(Leaf.HEALTH), self.health().to_json())

    def start(self) -> None:
        """Start the publisher and, if a broker is configured, connect to it."""
        self.disk_guard.check()
        self.publisher.start()
        self.publisher.set_state(self.topics.leaf(Leaf.STATUS), self._status("online", "connected"))
        self.publisher.set_state(self.topics.leaf(Leaf.INFO), self.info().to_json())
        if self.link is None:
            logger.warning(
                "No broker configured (mqtt.host): events are kept in the outbox %s "
                "(at most %d, oldest dropped first) until one is",
                self.outbox.path,
                self.config.outbox.max_events,
            )
            return
        self.publisher.attach(self.link)
        if self.config.commands.enabled:
            self.link.subscribe(self.topics.command_filter, self.commands.handle)
        self.link.start()

    def run(self, stop: threading.Event) -> None:
        """Start, serve until `stop` is set, then shut down cleanly."""
        self.start()
        self.serve(stop)
        self.shutdown()

    def serve(self, stop: threading.Event) -> None:
        """Serve /metrics and publish health on its interval until `stop` is set (the service
        is started).

        Wakes every second to check free disk space and to write log lines the repeat
        limiter held back. The health schedule runs on the monotonic clock, so a wall-clock
        jump neither skips nor floods it.
        """
        logger.info("moodsense-edge %s running as %s", __version__, self.topics.base)
        # Served by the long-running service only: replays, fleet simulators and one-shot
        # tools build an EdgeService too, and must not compete for the port.
        if self.metrics is not None:
            self.metrics.start()
        interval_s = self.config.health.interval_s
        next_health_s = time.monotonic() + interval_s
        while not stop.wait(min(_TICK_S, max(0.0, next_health_s - time.monotonic()))):
            flush_repeats()
            self.disk_guard.check()
            if time.monotonic() >= next_health_s:
                next_health_s = time.monotonic() + interval_s
                self.publish_health()
        flush_repeats()

    def shutdown(self) -> None:
        """Deliver what we can, leave the rest on disk, say `offline`, disconnect."""
        if self.metrics is not None:
            self.metrics.stop()
        self.publisher.stop(SHUTDOWN_TIMEOUT_S)
        if self.link is not None:
            self.link.stop(
                (self.topics.leaf(Leaf.STATUS), self._status("offline", "shutdown")),
                SHUTDOWN_TIMEOUT_S,
            )
        logger.info("moodsense-edge stopped")
