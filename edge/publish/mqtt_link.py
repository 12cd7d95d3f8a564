"""The paho-mqtt client, configured the one way the contract needs it.

MQTT v5, QoS 1, TLS with CA verification unless disabled, a retained `offline` last will set
before connecting, automatic reconnect with backoff. paho's network thread only calls the
listener; it never waits on our locks.
"""

import logging
import ssl
from collections.abc import Callable
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config.model import MqttConfig
from edge.config.secrets import Secrets

logger = logging.getLogger(__name__)

QOS = 1
# publish() results that mean "queued": paho also queues while disconnected.
_QUEUED = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)


class LinkListener(Protocol):
    """What the link reports, from paho's network thread. Implementations must not block."""

    def on_link_up(self) -> None:
        """Connected (again): state topics should be republished now."""

    def on_link_down(self) -> None:
        """Connection lost; paho keeps unacknowledged messages and resends them."""

    def on_published(self, mid: int, refused: bool) -> None:
        """The broker acknowledged message `mid` (`refused`: with a failure reason code)."""


MessageHandler = Callable[[str, bytes], object]


def tls_context(config: MqttConfig, secrets: Secrets) -> ssl.SSLContext:
    """CA-verifying TLS context for the broker, with the client certificate if configured."""
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH,
        cafile=str(config.tls.ca_file) if config.tls.ca_file else None,
    )
    # create_default_context already sets CERT_REQUIRED and hostname checking; say it anyway.
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    if config.tls.client_cert_file is not None:
        context.load_cert_chain(
            str(config.tls.client_cert_file),
            str(secrets.mqtt_client_key_file) if secrets.mqtt_client_key_file else None,
        )
    return context


def new_client(config: MqttConfig, secrets: Secrets, client_id: str) -> mqtt.Client:
    """A paho 2.x MQTT v5 client set up from `config`: TLS (CA-verified) when enabled, the
    account, reconnect backoff. The device's publisher, its store view and the sink share it."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    if config.tls.enabled:
        client.tls_set_context(tls_context(config, secrets))
    if config.username is not None:
        client.username_pw_set(config.username, secrets.mqtt_password)
    client.reconnect_delay_set(
        min_delay=max(1, round(config.reconnect_min_s)),
        max_delay=max(1, round(config.reconnect_max_s)),
    )
    return client


class MqttLink:
    """One broker connection. `publish` never blocks: paho queues while disconnected."""

    def __init__(
        self,
        config: MqttConfig,
        secrets: Secrets,
        client_id: str,
        will: tuple[str, bytes],
        listener: LinkListener,
        max_queued: int,
    ) -> None:
        if config.host is None:
            raise ValueError("MqttLink needs mqtt.host")
        self._host = config.host
        self._config = config
        self._listener = listener
        self._subscriptions: dict[str, MessageHandler] = {}
        self.connected = False
        self.connects_total = 0
        self._stopping = False
        client = new_client(config, secrets, client_id)
        will_topic, will_payload = will
        client.will_set(will_topic, will_payload, qos=QOS, retain=True)
        # Messages above paho's window wait in its queue; the outbox bounds what we hand it.
        client.max_queued_messages_set(max_queued)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Route messages matching `topic_filter` to `handler` (resubscribed on reconnect)."""
        self._subscriptions[topic_filter] = handler
        self._client.message_callback_add(topic_filter, self._dispatch(handler))
        if self.connected:
            self._client.subscribe(topic_filter, qos=QOS)

    @staticmethod
    def _dispatch(handler: MessageHandler) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
        def callback(_client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
            try:
                handler(message.topic, bytes(message.payload))
            except Exception:
                # A bad message must never kill paho's network thread.
                logger.exception("Handler for %s failed", message.topic)

        return callback

    def start(self) -> None:
        """Connect in the background; retries forever with backoff."""
        self._client.connect_async(
            self._host, self._config.port, keepalive=self._config.keepalive_s
        )
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """Queue a QoS 1 message; returns its message id (for `on_published`)."""
        info = self._client.publish(topic, payload, QOS, retain)
        if info.rc not in _QUEUED:
            raise RuntimeError(f"paho refused to queue a message: {mqtt.error_string(info.rc)}")
        return info.mid

    def stop(self, last: tuple[str, bytes] | None, timeout_s: float) -> None:
        """Publish `last` (the retained `offline`) if connected, then disconnect cleanly.

        A clean disconnect suppresses the will, which is why `offline` is sent explicitly.
        """
        self._stopping = True
        if last is not None and self.connected:
            info = self._client.publish(last[0], last[1], qos=QOS, retain=True)
            try:
                info.wait_for_publish(timeout=timeout_s)
            except (RuntimeError, ValueError):
                logger.warning("Could not deliver the offline status before stopping")
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            # Unlike a broker refusal being taken as success: stay disconnected and retry.
            logger.warning("Broker refused the connection: %s", reason_code)
            return
        self.connected = True
        self.connects_total += 1
        logger.info("Connected to broker %s:%d", self._config.host, self._config.port)
        for topic_filter in self._subscriptions:
            client.subscribe(topic_filter, qos=QOS)
        self._listener.on_link_up()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        was_connected = self.connected
        self.connected = False
        if self._stopping:
            logger.info("Disconnected from broker")
        elif was_connected:
            logger.warning("Disconnected from broker: %s; reconnecting", reason_code)
            self._listener.on_link_down()

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        _properties: Properties,
    ) -> None:
        self._listener.on_published(mid, reason_code.is_failure)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        logger.debug("Ignoring message on unexpected topic %s", message.topic)
