"""The store view's own broker connection: read the site's devices, send signed acks.

A second paho client beside the publisher's (which owns this device's will and outbox), with
the same broker, account and TLS settings, MQTT v5 and QoS 1. It subscribes to the leaves the
staff page shows for every device of the site, plus `cmd/ack/result` to learn when another
device refused an acknowledgement sent from here; it publishes nothing but those signed
`cmd/ack` requests. Everything it receives goes to a `StoreListener` (the event hub) from
paho's network thread, which must never block and never dies of a bad message.
"""

import logging
import threading
from collections import OrderedDict
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from edge.commands.dispatcher import CommandFailed
from edge.config import EdgeConfig, Secrets
from edge.events.command_payloads import CommandResultPayload
from edge.events.topics import COMMAND_LEVEL, RESULT_LEVEL, Topics
from edge.publish.mqtt_link import QOS, new_client
from edge.web.command_signer import CommandSigner

logger = logging.getLogger(__name__)

ACK_COMMAND = "ack"
MAX_PENDING = 64
"""Acknowledgements sent and not yet answered that we still match results to."""


class StoreListener(Protocol):
    """Where the link reports (the event hub). Called from paho's thread; must not block."""

    def remote(self, topic: str, payload: bytes) -> None:
        """A message of a device of the site."""

    def remote_link_down(self) -> None:
        """The connection dropped: what was known is no longer current."""

    def remote_ack_refused(self, device_id: str, alert_id: str, code: str) -> None:
        """A device refused an acknowledgement sent from here (`code`: its error code)."""


class StoreLink:
    """Subscribes to `filters` for the listener; `acknowledge` sends a signed `cmd/ack`."""

    def __init__(
        self,
        config: EdgeConfig,
        secrets: Secrets,
        filters: list[str],
        listener: StoreListener,
        signer: CommandSigner | None,
    ) -> None:
        if config.mqtt.host is None:
            raise ValueError("the store view needs mqtt.host")
        self._config = config.mqtt
        self._host = config.mqtt.host
        self._site = Topics(config.mqtt.topic_prefix, config.site_id, config.device_id)
        result_filter = f"{config.mqtt.topic_prefix}/{config.site_id}/+/{COMMAND_LEVEL}"
        self._filters = [*filters, f"{result_filter}/{ACK_COMMAND}/{RESULT_LEVEL}"]
        self._listener, self._signer = listener, signer
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._stopping = False
        self.connected = False
        base_id = config.mqtt.client_id or f"moodsense-{config.site_id}-{config.device_id}"
        client = new_client(config.mqtt, secrets, f"{base_id}-store")
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    @property
    def can_ack(self) -> bool:
        """A site command key is configured."""
        return self._signer is not None

    def start(self) -> None:
        """Connect in the background; retries forever with backoff."""
        self._client.connect_async(
            self._host, self._config.port, keepalive=self._config.keepalive_s
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop paho's thread."""
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()

    def acknowledge(self, device_id: str, alert_id: str) -> dict[str, Any]:
        """Send a signed `cmd/ack` for `alert_id` to `device_id`; raises `CommandFailed`."""
        if self._signer is None:
            raise CommandFailed("no site command key on this device")
        if not self.connected:
            # A queued command could arrive after its issued_at is stale: refuse now instead.
            raise CommandFailed("not connected to the broker")
        topic = Topics(self._site.prefix, self._site.site_id, device_id).command(ACK_COMMAND)
        request_id, payload = self._signer.request(topic, {"alert_id": alert_id})
        with self._lock:
            self._pending[request_id] = (device_id, alert_id)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        info = self._client.publish(topic, payload, qos=QOS)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise CommandFailed(f"could not send: {mqtt.error_string(info.rc)}")
        logger.info("Acknowledgement sent to %s", device_id)
        return {"requested": alert_id, "device": device_id}

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.warning("Broker refused the store view's connection: %s", reason_code)
            return
        self.connected = True
        client.subscribe([(topic_filter, QOS) for topic_filter in self._filters])
        logger.info("Store view following %s/+", self._site.prefix + "/" + self._site.site_id)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        was_connected, self.connected = self.connected, False
        if was_connected and not self._stopping:
            logger.warning("Store view disconnected: %s; reconnecting", reason_code)
            self._listener.remote_link_down()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic.endswith(f"/{COMMAND_LEVEL}/{ACK_COMMAND}/{RESULT_LEVEL}"):
                self._on_result(bytes(message.payload))
            else:
                self._listener.remote(message.topic, bytes(message.payload))
        except Exception:
            # A bad message must never kill paho's network thread.
            logger.exception("Store view failed on a message")

    def _on_result(self, payload: bytes) -> None:
        try:
            result = CommandResultPayload.model_validate_json(payload)
        except ValidationError:
            return  # results to other senders are none of our business, malformed or not
        with self._lock:
            mine = self._pending.pop(result.request_id or "", None)
        if mine is not None and not result.ok:
            code = result.error.code if result.error is not None else "failed"
            logger.warning("%s refused an acknowledgement sent from here: %s", mine[0], code)
            self._listener.remote_ack_refused(mine[0], mine[1], code)
