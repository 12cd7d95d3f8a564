"""The durable publisher's fast paths against a real Mosquitto: multi-row commits, sending
from memory in partial batches, spilling to disk, and waiting for delivery."""

import json
from pathlib import Path

from edge.config.model import MqttConfig
from edge.config.secrets import Secrets
from edge.publish.mqtt_link import MqttLink
from edge.publish.outbox import Outbox
from edge.publish.publisher import DurablePublisher
from tests.broker import HOST, Mosquitto
from tests.collector import Collector, Received

TOPIC = "moodsense/v1/test/kiosk-1/mood"


def _link(port: int, publisher: DurablePublisher) -> MqttLink:
    return MqttLink(
        MqttConfig(host=HOST, port=port, tls={"enabled": False}),  # type: ignore[arg-type]
        Secrets(None, None, None),
        client_id="paths-test",
        will=("moodsense/v1/test/kiosk-1/status", b"{}"),
        listener=publisher,
        max_queued=1000,
    )


def _numbers(messages: list[Received]) -> list[int]:
    return [json.loads(m.payload)["n"] for m in messages if m.topic == TOPIC]


def _payload(n: int) -> bytes:
    return json.dumps({"n": n}).encode()


def test_batches_of_any_size_are_stored_in_order_with_contiguous_seqs(tmp_path: Path) -> None:
    """Multi-row INSERTs split batches into chunks; no event may move or get a gap."""
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_events=10_000)
    expected: list[bytes] = []
    for size in (1, 2, 3, 255, 256, 257, 511, 600):
        batch = [("t", _payload(len(expected) + i)) for i in range(size)]
        assert outbox.append(batch) == 0
        expected.extend(payload for _topic, payload in batch)
        assert outbox.last_seq == len(expected)
    stored = outbox.fetch_after(0, 10_000)
    assert [e.payload for e in stored] == expected
    assert [e.seq for e in stored] == list(range(1, len(expected) + 1))
    assert outbox.depth == len(expected)
    outbox.close()


def test_wait_delivered_returns_once_the_broker_acknowledged_every_event(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """Shutdown and the benchmark rely on it: True only when the outbox is empty."""
    collector = Collector(broker.port, TOPIC)
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_events=10_000)
    # A window that is not a multiple of the batch size makes sends split batches.
    publisher = DurablePublisher(outbox, batch_max=64, inflight_max=50)
    link = _link(broker.port, publisher)
    publisher.attach(link)
    publisher.start()
    link.start()
    for n in range(1_000):
        assert publisher.submit(TOPIC, _payload(n))
    assert publisher.wait_delivered(60)
    assert outbox.depth == 0
    received = collector.wait_for(lambda m: len(_numbers(m)) >= 1_000)
    assert _numbers(received) == list(range(1_000))
    publisher.stop(5)
    link.stop(None, 5)
    collector.close()


def test_a_backlog_larger_than_memory_is_read_back_from_disk_in_order(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """After a long outage the outbox, not memory, is the source; order must still hold."""
    collector = Collector(broker.port, TOPIC)
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_events=10_000)
    publisher = DurablePublisher(outbox, batch_max=50, inflight_max=40, ingress_max=100)
    publisher.start()
    for n in range(300):  # offline: more than ingress_max committed events wait
        assert publisher.submit(TOPIC, _payload(n))
        if n % 50 == 49:
            assert publisher.flush(10)
    assert outbox.depth == 300
    link = _link(broker.port, publisher)
    publisher.attach(link)
    link.start()
    for n in range(300, 350):
        assert publisher.submit(TOPIC, _payload(n))
    assert publisher.wait_delivered(60)
    received = collector.wait_for(lambda m: len(_numbers(m)) >= 350)
    assert _numbers(received) == list(range(350))
    publisher.stop(5)
    link.stop(None, 5)
    collector.close()


def test_an_event_the_broker_refuses_is_counted_and_does_not_block_later_ones(
    tmp_path: Path,
) -> None:
    """An ACL denial must not stall the outbox forever, and it must show in health."""
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite moodsense/v1/test/#\n")
    broker = Mosquitto(tmp_path / "broker", extra_conf=f"acl_file {acl}\n")
    broker.start()
    try:
        collector = Collector(broker.port, TOPIC)
        outbox = Outbox(tmp_path / "outbox.sqlite3", max_events=1000)
        publisher = DurablePublisher(outbox, batch_max=10, inflight_max=10)
        link = _link(broker.port, publisher)
        publisher.attach(link)
        publisher.start()
        link.start()
        for n in range(20):
            topic = "moodsense/v1/other/kiosk-1/mood" if n == 5 else TOPIC
            assert publisher.submit(topic, _payload(n))
        assert publisher.wait_delivered(30)
        assert publisher.stats().rejected_total == 1
        received = collector.wait_for(lambda m: len(set(_numbers(m))) >= 19)
        # Mosquitto 2.0 drops the connection after a denial, so resends (duplicates) occur.
        assert list(dict.fromkeys(_numbers(received))) == [n for n in range(20) if n != 5]
        publisher.stop(5)
        link.stop(None, 5)
        collector.close()
    finally:
        broker.stop()
