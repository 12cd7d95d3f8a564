"""The contract on a Mosquitto bridge tree: a store broker bridges its site up to a central
broker (docs/bridge/*.conf, used as they are), devices talk to the store broker, the sink to
the central one. Events land once, commands come down, retained state and wills cross."""

import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.sink.config import load_sink_secrets
from edge.sink.service import SinkService
from tests import samples
from tests.broker import HOST, Mosquitto
from tests.collector import Collector, Received, wait_until
from tests.sink_fleet import REPO, count, emit, emit_round, publish_raw, sink_config, start_device
from tests.test_commands import KEY, sign_command
from tests.test_publisher_broker import _config_file, _start_emitter
from tests.test_sink import dsn, postgres  # noqa: F401 (fixtures shared with the sink tests)

SITE = "store-7"  # the site of tests.conftest.make_config, so child-process devices match
BRIDGE_STATE = f"$SYS/broker/connection/bridge-{SITE}/state"


def render(name: str, **values: object) -> str:
    """docs/bridge/<name> with its `${NAME}` placeholders filled in (an unknown one fails)."""
    text = (REPO / "docs" / "bridge" / name).read_text()
    return re.sub(r"\$\{(\w+)\}", lambda m: str(values[m.group(1)]), text)


@dataclass
class Tree:
    """A central broker and one store broker bridged to it."""

    central: Mosquitto
    store: Mosquitto

    def wait_linked(self, state: bytes = b"1") -> None:
        """Wait until the central broker holds the bridge's retained state `state`."""
        watcher = Collector(self.central.port, BRIDGE_STATE)
        try:
            watcher.wait_for(lambda m: bool(m) and m[-1].payload == state, 20)
        finally:
            watcher.close()


def start_tree(workdir: Path, store_extra: str = "") -> Tree:
    """Two real Mosquitto processes on free loopback ports, configured from docs/bridge/
    (`store_extra`: lines appended to the store broker's config, later lines win)."""
    central = Mosquitto(workdir / "central", extra_conf=render("central.conf"))
    store = Mosquitto(workdir / "store")
    store.extra_conf = (
        render("store.conf", SITE_ID=SITE, CENTRAL_HOST=HOST, CENTRAL_PORT=central.port)
        + store_extra
    )
    central.start()
    store.start()
    bridged = Tree(central, store)
    bridged.wait_linked()
    return bridged


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Tree]:
    """The bridge tree as documented, stopped after the test."""
    bridged = start_tree(tmp_path)
    yield bridged
    bridged.store.stop()
    bridged.central.stop()


@pytest.fixture
def central_sink(tree: Tree, dsn: str) -> Iterator[SinkService]:  # noqa: F811
    """The sink, subscribed at the central broker only."""
    config = sink_config(tree.central.port, dsn)
    service = SinkService(config, load_sink_secrets(config))
    service.start()
    wait_until(service.subscribed.is_set, 10)
    yield service
    service.stop()


ALL_EVENTS = (
    "SELECT (SELECT count(*) FROM mood_events) + (SELECT count(*) FROM interactions) "
    "+ (SELECT count(*) FROM alerts) + (SELECT count(*) FROM surveys)"
)
DISTINCT_EVENTS = (
    "SELECT count(*) FROM (SELECT id FROM mood_events UNION SELECT id FROM interactions "
    "UNION SELECT id FROM alerts UNION SELECT id FROM surveys) ids WHERE id = ANY(%s)"
)


def test_every_event_from_a_store_broker_lands_once_even_across_a_central_restart(
    tree: Tree,
    central_sink: SinkService,
    dsn: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A retailer that outgrows one broker must keep exactly-once rows through its WAN links."""
    device = start_device(tmp_path, tree.store.port, SITE, "kiosk-1")
    try:
        payloads = samples.event_payloads()
        for payload in payloads:
            emit(device, payload)
        sent = [p.id for p in payloads if p.model_dump(by_alias=True)["schema"] != "consent/1"]
        sent += emit_round([device], 20)
        wait_until(lambda: count(dsn, ALL_EVENTS) == len(sent), 30)
        # The central broker goes away (upgrade, failover): the store broker queues for it.
        tree.central.stop()
        sent += emit_round([device], 30)
        assert device.publisher.flush(10.0)  # accepted by the store broker while central is down
        tree.central.start()
        wait_until(lambda: count(dsn, ALL_EVENTS) >= len(sent), 60)
        assert count(dsn, ALL_EVENTS) == count(dsn, DISTINCT_EVENTS, sent) == len(sent)
        # Retained device state crossed the bridge too.
        state = "SELECT count(*) FROM device_state WHERE kind IN ('status', 'info', 'consent')"
        wait_until(lambda: count(dsn, state) == 3, 10)
        assert count(dsn, "SELECT count(*) FROM dead_letters") == 0
    finally:
        device.shutdown()


def test_only_the_stores_own_site_goes_up(
    tree: Tree,
    central_sink: SinkService,
    dsn: str,  # noqa: F811
) -> None:
    """A kiosk configured with another store's site id must not write into that store's rows."""
    foreign, own = samples.mood(), samples.mood()
    publish_raw(
        tree.store.port,
        [
            ("moodsense/v1/store-9/kiosk-1/mood", foreign.to_json()),
            (f"moodsense/v1/{SITE}/kiosk-1/mood", own.to_json()),
        ],
    )
    # Same connection, same order through the bridge: once `own` is stored, `foreign` had
    # its chance.
    wait_until(lambda: count(dsn, "SELECT count(*) FROM mood_events WHERE id = %s", own.id) == 1)
    assert count(dsn, "SELECT count(*) FROM mood_events") == 1


def test_the_store_queue_for_a_broken_link_is_bounded_and_drops_the_newest(
    tmp_path: Path,
) -> None:
    """Device outboxes cannot help once the store broker has accepted an event: past
    `max_queued_messages` it is gone, so the limit must cover the longest link outage."""
    tree = start_tree(tmp_path, store_extra="max_queued_messages 5\n")
    collector = Collector(tree.central.port, "moodsense/v1/#", persistent=True)
    try:
        tree.central.stop()
        events = [samples.mood() for _ in range(20)]
        topic = f"moodsense/v1/{SITE}/kiosk-1/mood"
        publish_raw(tree.store.port, [(topic, e.to_json()) for e in events])
        tree.central.start()
        tree.wait_linked()
        marker = samples.mood()
        publish_raw(tree.store.port, [(topic, marker.to_json())])
        received = collector.wait_for(lambda m: any(x.json()["id"] == marker.id for x in m), 20)
        assert [m.json()["id"] for m in received] == [e.id for e in events[:5]] + [marker.id]
        assert "Outgoing messages are being dropped" in tree.store.log_path.read_text()
    finally:
        collector.close()
        tree.store.stop()
        tree.central.stop()


def _command_sender(port: int) -> mqtt.Client:
    sender = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sender.connect(HOST, port)
    sender.loop_start()
    return sender


def test_a_command_published_centrally_reaches_the_device_and_its_result_comes_back(
    tree: Tree, tmp_path: Path
) -> None:
    """The backend sends commands to the central broker; the device only knows its store's."""
    key_file = tmp_path / "command.key"
    key_file.write_bytes(KEY + b"\n")
    device = start_device(
        tmp_path, tree.store.port, SITE, "kiosk-1", commands={"key_file": str(key_file)}
    )
    central = Collector(tree.central.port, f"moodsense/v1/{SITE}/kiosk-1/#")
    sender = _command_sender(tree.central.port)
    try:
        # info is published after the device subscribed to its commands.
        central.wait_for(lambda m: any(x.topic.endswith("/info") for x in m))
        topic = device.topics.command("ping")
        sender.publish(topic, sign_command(topic, {}), qos=1).wait_for_publish(5)
        result_topic = device.topics.command_result("ping")
        messages = central.wait_for(lambda m: any(x.topic == result_topic for x in m))
        result = next(x for x in messages if x.topic == result_topic).json()
        assert result["ok"] is True and result["result"]["pong"] is True
        # Exactly one copy each way: the command is not echoed back up the bridge.
        assert [x.topic for x in central.snapshot()].count(topic) == 1
        assert [x.topic for x in central.snapshot()].count(result_topic) == 1
    finally:
        sender.disconnect()
        sender.loop_stop()
        central.close()
        device.shutdown()


def _states(messages: list[Received], device: str) -> list[str]:
    return [
        str(m.json()["state"])
        for m in messages
        if m.topic == f"moodsense/v1/{SITE}/{device}/status"
    ]


def test_retained_status_and_last_wills_cross_the_bridge_and_a_dark_store_shows_on_its_link(
    tree: Tree, tmp_path: Path
) -> None:
    """Staff dashboards at the centre must tell a crashed kiosk from a store that went dark."""
    (tmp_path / "crashing").mkdir()
    _config, config_file = _config_file(tmp_path / "crashing", tree.store.port)
    crashing = _start_emitter(config_file, 0)  # kiosk-3 in a child process, killed below
    steady = start_device(tmp_path, tree.store.port, SITE, "kiosk-1")
    watcher = Collector(tree.central.port, f"moodsense/v1/{SITE}/+/status")
    try:
        watcher.wait_for(
            lambda m: "online" in _states(m, "kiosk-3") and bool(_states(m, "kiosk-1"))
        )
        crashing.send_signal(signal.SIGKILL)
        crashing.wait(10)
        # The store broker publishes kiosk-3's will; the bridge carries it up, retained.
        watcher.wait_for(lambda m: _states(m, "kiosk-3")[-1:] == ["offline"])
        late = Collector(tree.central.port, f"moodsense/v1/{SITE}/+/status")
        retained = late.wait_for(lambda m: len(m) == 2)
        late.close()
        assert all(m.retain for m in retained)
        assert _states(retained, "kiosk-3") == ["offline"] and _states(retained, "kiosk-1") == [
            "online"
        ]
        # The whole store goes dark (power cut): no device will can reach the centre, so
        # kiosk-1 still reads "online" there; the bridge's own will says the link is down.
        assert tree.store.process is not None
        tree.store.process.kill()
        tree.store.process.wait(10)
        tree.store.process = None
        tree.wait_linked(b"0")
        late = Collector(tree.central.port, f"moodsense/v1/{SITE}/kiosk-1/status")
        assert _states(late.wait_for(lambda m: len(m) == 1), "kiosk-1") == ["online"]
        late.close()
    finally:
        crashing.kill()
        crashing.wait()
        watcher.close()
        steady.shutdown()
