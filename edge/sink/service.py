"""The sink process: MQTT v5 shared subscription in, batched PostgreSQL transactions out.

paho's network thread only queues messages; one writer thread validates them, writes a batch
in one transaction, and acknowledges (PUBACK) each message only after that commit. A sink
killed at any point therefore loses nothing: the broker still holds every message it has not
acknowledged and delivers it again (duplicates are absorbed by the idempotent inserts).
"""

import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.publish.mqtt_link import new_client
from edge.sink.config import SinkConfig, SinkSecrets
from edge.sink.store import DeadLetter, EventStore, ValidMessage, WriteResult
from edge.sink.validate import Accepted, ContractValidator, Rejected

logger = logging.getLogger(__name__)

QOS = 1
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0
STATS_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received message waiting for its batch; `generation` counts connections, because
    a message id is only meaningful on the connection that delivered it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters since start (messages)."""

    received_total: int = 0
    stored_total: int = 0
    duplicates_total: int = 0
    dead_letters_total: int = 0
    ignored_total: int = 0
    batches_total: int = 0
    write_failures_total: int = 0
    """Batch writes that failed and were retried (database down or refusing)."""


@dataclass
class _Counters:
    value: SinkStats = field(default_factory=SinkStats)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, received: int, result: WriteResult) -> None:
        with self.lock:
            v = self.value
            self.value = replace(
                v,
                received_total=v.received_total + received,
                stored_total=v.stored_total + result.inserted,
                duplicates_total=v.duplicates_total + result.duplicates,
                dead_letters_total=v.dead_letters_total + result.dead_letters,
                ignored_total=v.ignored_total + result.ignored,
                batches_total=v.batches_total + 1,
            )

    def failed(self) -> None:
        with self.lock:
            self.value = replace(
                self.value, write_failures_total=self.value.write_failures_total + 1
            )


class SinkService:
    """One sink process: `start()`, then `stop()`; `run(stop_event)` does both."""

    def __init__(
        self, config: SinkConfig, secrets: SinkSecrets, store: EventStore | None = None
    ) -> None:
        self.config = config
        self.client_id = config.effective_client_id
        self._validator = ContractValidator(config.mqtt.topic_prefix, config.max_payload_bytes)
        self._store = store or EventStore(
            config.database.dsn,
            secrets.db_password,
            self.client_id,
            config.database.connect_timeout_s,
        )
        self._queue: queue.Queue[Inbound] = queue.Queue()
        self._counters = _Counters()
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._draining = False
        self._stopping = threading.Event()
        self.subscribed = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="sink-writer", daemon=True)
        self._client = self._make_client(secrets)

    def _make_client(self, secrets: SinkSecrets) -> mqtt.Client:
        client = new_client(self.config.mqtt, secrets.mqtt, self.client_id)
        client.manual_ack_set(True)  # PUBACK only after the commit, see _ack()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def stats(self) -> SinkStats:
        """A snapshot of the counters."""
        with self._counters.lock:
            return self._counters.value

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the database (migrating it), then to the broker; raises if the database
        is unreachable, so a misconfigured sink fails at once."""
        self._store.connect()
        self._writer.start()
        mqtt_config = self.config.mqtt
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.config.session_expiry_s
        # The broker may have this many unacknowledged messages out to us: room for a full
        # batch being written while the next one fills (Mosquitto honours it for MQTT v5).
        properties.ReceiveMaximum = min(65_535, max(20, 2 * self.config.batch_max))
        if mqtt_config.host is None:
            raise ValueError("the sink needs mqtt.host")  # SinkConfig already refuses this
        self._client.connect_async(
            mqtt_config.host,
            mqtt_config.port,
            keepalive=mqtt_config.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Write and acknowledge what was received, then disconnect. Messages arriving
        meanwhile stay unacknowledged in this sink's broker session for its next start."""
        self._draining = True
        self._stopping.set()
        self._writer.join(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        self._store.close()
        logger.info("Sink stopped: %s", self.stats())

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set, logging the counters every minute."""
        self.start()
        logger.info("Sink %s consuming %s", self.client_id, self.config.share_filter)
        while not stop.wait(STATS_INTERVAL_S):
            logger.info("Sink counters: %s", self.stats())
        self.stop()

    # --- paho callbacks (network thread: never block) -------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: mqtt.ConnectFlags, rc: ReasonCode, _p: Any
    ) -> None:
        if rc.is_failure:
            logger.warning("Broker refused the connection: %s", rc)
            return
        with self._generation_lock:
            self._generation += 1
        logger.info("Connected to broker (session present: %s)", flags.session_present)
        # Retain handling 1: the retained state of every device on a sink's first subscribe
        # (fills device_state), not again on each reconnect of the same session.
        options = SubscribeOptions(qos=QOS, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe(self.config.share_filter, options=options)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: mqtt.DisconnectFlags, rc: ReasonCode, _p: Any
    ) -> None:
        # Acks for messages of the old connection would hit unrelated ids on the next one.
        with self._generation_lock:
            self._generation += 1
        self.subscribed.clear()
        if not self._draining:
            logger.warning("Disconnected from broker: %s; reconnecting", rc)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        if any(code.is_failure for code in codes):
            logger.error("Broker refused the subscription %s: %s", self.config.share_filter, codes)
            return
        logger.info("Subscribed to %s", self.config.share_filter)
        self.subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self._draining:
            return  # left unacknowledged: the broker keeps it in our session
        self._queue.put(
            Inbound(
                message.topic, bytes(message.payload), message.mid, message.qos, self._generation
            )
        )

    # --- writer thread --------------------------------------------------------------------

    def _write_loop(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            batch = self._collect()
            if batch:
                self._handle(batch)

    def _collect(self) -> list[Inbound]:
        """Up to `batch_max` messages, waiting at most `flush_interval_s` after the first."""
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.config.flush_interval_s
        while len(batch) < self.config.batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[Inbound]) -> None:
        valid: list[ValidMessage] = []
        dead: list[DeadLetter] = []
        for message in batch:
            try:
                verdict = self._validator.check(message.topic, message.payload)
            except Exception as exc:  # a validator bug must not stop the fleet's ingestion
                logger.exception("Validating a message on %s failed", message.topic)
                verdict = Rejected(f"sink error while validating: {exc!r}"[:500])
            if isinstance(verdict, Accepted):
                valid.append(ValidMessage(message.topic, message.payload, verdict))
            else:
                payload = message.payload[: self.config.max_payload_bytes]
                dead.append(DeadLetter(message.topic, payload, verdict.reason))
        if dead:
            logger.warning("%d invalid message(s), e.g. %s", len(dead), dead[0].reason)
        result = self._write_with_retry(valid, dead)
        if result is None:
            return  # stopping while the database is down: nothing acknowledged, nothing lost
        self._counters.add(len(batch), result)
        self._ack(batch)

    def _write_with_retry(
        self, valid: list[ValidMessage], dead: list[DeadLetter]
    ) -> WriteResult | None:
        delay_s = RETRY_MIN_S
        while True:
            try:
                return self._store.write(valid, dead)
            except Exception:
                # Database down or restarting: keep the batch, back off, reconnect, retry.
                logger.exception("Writing a batch failed; retrying in %.1f s", delay_s)
                self._counters.failed()
                self._store.close()
            if self._stopping.wait(delay_s):
                return None
            delay_s = min(RETRY_MAX_S, delay_s * 2)

    def _ack(self, batch: list[Inbound]) -> None:
        """PUBACK, in arrival order (MQTT requires it), for messages of this connection."""
        with self._generation_lock:  # no reconnect between the check and the acks
            for message in batch:
                if message.qos > 0 and message.generation == self._generation:
                    self._client.ack(message.mid, message.qos)
