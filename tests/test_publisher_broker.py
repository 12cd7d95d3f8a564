"""The durable publisher against a real Mosquitto: presence, outages and crashes."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from edge.app import EdgeService
from edge.config import EdgeConfig, load_secrets
from edge.events.topics import Leaf
from edge.publish.outbox import Outbox
from tests import samples
from tests.broker import Mosquitto
from tests.collector import Collector, Received, wait_until
from tests.conftest import make_config

REPO = Path(__file__).resolve().parents[1]


def _service(config: EdgeConfig) -> EdgeService:
    service = EdgeService(config, load_secrets(config))
    service.start()
    return service


def _ids(messages: list[Received], topic_suffix: str = "/mood") -> list[str]:
    return [m.json()["id"] for m in messages if m.topic.endswith(topic_suffix)]


def _assert_complete_in_order(received: list[Received], sent_ids: list[str]) -> None:
    """Every sent id arrived; duplicates carry the same bytes; first arrivals keep order."""
    by_id: dict[str, bytes] = {}
    first_order: list[str] = []
    for message in received:
        if not message.topic.endswith("/mood"):
            continue
        event_id = message.json()["id"]
        if event_id in by_id:
            assert by_id[event_id] == message.payload, "a duplicate differs from its original"
            continue
        by_id[event_id] = message.payload
        first_order.append(event_id)
    assert set(sent_ids) <= set(by_id), f"{len(set(sent_ids) - set(by_id))} events lost"
    position = {event_id: i for i, event_id in enumerate(first_order)}
    assert [position[i] for i in sent_ids] == sorted(position[i] for i in sent_ids)


def _status_states(collector: Collector) -> list[tuple[str, str]]:
    return [
        (m.json()["state"], m.json()["reason"])
        for m in collector.snapshot()
        if m.topic.endswith("/status")
    ]


def test_status_and_info_are_retained_and_offline_is_explicit_on_clean_stop(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """Late subscribers (dashboards) must see the current status and info at once."""
    service = _service(make_config(tmp_path, broker.port))
    both = {"status", "info"}
    early = Collector(broker.port, f"{service.topics.base}/+")
    early.wait_for(lambda m: {x.topic.rsplit("/", 1)[1] for x in m} >= both)
    late = Collector(broker.port, f"{service.topics.base}/+")
    messages = late.wait_for(lambda m: {x.topic.rsplit("/", 1)[1] for x in m} >= both)
    assert all(m.retain for m in messages)
    assert ("online", "connected") in _status_states(late)
    service.shutdown()
    late.wait_for(lambda _m: ("offline", "shutdown") in _status_states(late))
    late.close()
    early.close()


def test_kill_9_of_a_connected_service_makes_the_broker_publish_retained_offline(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """A crashed kiosk must show as offline to staff without waiting for a timeout."""
    config, config_file = _config_file(tmp_path, broker.port)
    watcher = Collector(broker.port, f"{config.mqtt.topic_prefix}/+/+/status")
    child = _start_emitter(config_file, 0)
    try:
        watcher.wait_for(lambda _m: ("online", "connected") in _status_states(watcher))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        watcher.wait_for(lambda _m: ("offline", "connection_lost") in _status_states(watcher))
    finally:
        child.kill()
        child.wait()
    late = Collector(broker.port, f"{config.mqtt.topic_prefix}/+/+/status")
    retained = late.wait_for(lambda m: len(m) >= 1)
    assert retained[-1].retain and retained[-1].json()["state"] == "offline"
    watcher.close()
    late.close()


def test_10000_events_survive_two_broker_restarts_mid_stream(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """Broker outages are routine in stores; no accepted event may be lost or reordered."""
    collector = Collector(broker.port, "moodsense/v1/+/+/mood", persistent=True)
    service = _service(make_config(tmp_path, broker.port))
    sent: list[str] = []
    restarted = threading.Event()

    def produce() -> None:
        for i in range(10_000):
            payload = samples.mood(t_rel_s=float(i))
            sent.append(payload.id)
            service.emit(Leaf.MOOD, payload)
            if i in (3_000, 6_500):
                restarted.clear()
                restarted.wait(30)  # keep producing only once the restart is under way

    # Connected first: otherwise the first "outage" can come before the first connection.
    wait_until(lambda: service.link is not None and service.link.connected, 30)
    producer = threading.Thread(target=produce)
    producer.start()
    for threshold in (3_000, 6_500):
        wait_until(lambda t=threshold: len(sent) > t, 30)
        broker.stop()
        restarted.set()
        wait_until(lambda: service.link is not None and not service.link.connected, 10)
        broker.start()
        wait_until(lambda: service.link is not None and service.link.connected, 30)
    producer.join(60)
    received = collector.wait_for(lambda m: set(sent) <= set(_ids(m)), timeout_s=120)
    _assert_complete_in_order(received, sent)
    assert service.link is not None and service.link.connects_total >= 3
    service.shutdown()
    collector.close()


def _config_file(tmp_path: Path, port: int) -> tuple[EdgeConfig, Path]:
    """A config for a child process, written where it can read it."""
    config = make_config(tmp_path, port)
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json())
    return config, path


def _start_emitter(config_file: Path, count: int, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.emit_events", str(config_file), str(count), *flags],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_kill_9_of_the_publisher_mid_stream_then_restart_delivers_every_accepted_event(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """Power cuts and OOM kills happen; what the outbox accepted must still arrive."""
    _config, config_file = _config_file(tmp_path, broker.port)
    collector = Collector(broker.port, "moodsense/v1/+/+/mood")
    child = _start_emitter(config_file, 3_000, "--pause-after", "1000")
    accepted: list[str] = []
    assert child.stdout is not None and child.stdin is not None
    try:
        for line in child.stdout:
            if line.startswith("accepted "):
                accepted.append(line.split()[1])
            if line.strip() == "paused":
                # Freeze the broker so acknowledged and unacknowledged events both exist.
                assert broker.process is not None
                broker.process.send_signal(signal.SIGSTOP)
                child.stdin.write("go\n")
                child.stdin.flush()
            if len(accepted) >= 2_000:
                child.send_signal(signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait()
        assert broker.process is not None
        broker.process.send_signal(signal.SIGCONT)
    # The frozen broker acknowledged none of the last 1,000: they exist only on disk now.
    assert Outbox(tmp_path / "state" / "outbox.sqlite3", 100_000).depth >= 1_000
    restarted = _start_emitter(config_file, 0, "--drain")
    out, _ = restarted.communicate(timeout=120)
    assert "drained" in out
    received = collector.wait_for(lambda m: set(accepted) <= set(_ids(m)), timeout_s=60)
    _assert_complete_in_order(received, accepted)
    collector.close()


def test_sigterm_mid_stream_delivers_every_accepted_event_then_says_offline(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """systemd stops the service with SIGTERM: nothing accepted may be stranded, and the fleet
    must see a deliberate `offline`, not a crash."""
    _config, config_file = _config_file(tmp_path, broker.port)
    collector = Collector(broker.port, "moodsense/v1/+/+/+")
    child = _start_emitter(config_file, 1_000_000)
    accepted: list[str] = []
    assert child.stdout is not None
    try:
        for line in child.stdout:
            if line.startswith("accepted "):
                accepted.append(line.split()[1])
                if len(accepted) == 1_000:
                    child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
    assert len(accepted) >= 1_000
    # Flushed on the way out: every accepted event reached the broker before the process ended.
    assert Outbox(tmp_path / "state" / "outbox.sqlite3", 100_000).depth == 0
    received = collector.wait_for(lambda m: set(accepted) <= set(_ids(m)), timeout_s=30)
    _assert_complete_in_order(received, accepted)
    collector.wait_for(lambda _m: ("offline", "shutdown") in _status_states(collector))
    collector.close()


def test_without_a_broker_events_wait_in_the_outbox_until_one_is_configured(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """The default config needs no broker; nothing is lost when one is added later."""
    offline = _service(make_config(tmp_path, None))
    sent = [samples.mood(t_rel_s=float(i)) for i in range(200)]
    for payload in sent:
        offline.emit(Leaf.MOOD, payload)
    assert offline.publisher.flush(10)
    assert offline.health().outbox.depth == 200
    assert not offline.health().mqtt.connected
    offline.shutdown()
    collector = Collector(broker.port, "moodsense/v1/+/+/mood")
    online = _service(make_config(tmp_path, broker.port))
    received = collector.wait_for(lambda m: len(_ids(m)) >= 200)
    _assert_complete_in_order(received, [p.id for p in sent])
    wait_until(lambda: online.health().outbox.depth == 0)
    online.shutdown()
    collector.close()


def test_a_full_outbox_drops_the_oldest_and_says_so_in_health(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """A months-long outage must not fill the disk, and the loss must be visible."""
    config = make_config(tmp_path, None, outbox={"max_events": 100})
    offline = _service(config)
    sent = [samples.mood(t_rel_s=float(i)) for i in range(250)]
    for payload in sent:
        offline.emit(Leaf.MOOD, payload)
    assert offline.publisher.flush(10)
    health = offline.health()
    assert (health.outbox.depth, health.outbox.dropped_total) == (100, 150)
    offline.shutdown()
    collector = Collector(broker.port, "moodsense/v1/+/+/#")
    online = _service(make_config(tmp_path, broker.port, outbox={"max_events": 100}))
    received = collector.wait_for(lambda m: len(_ids(m)) >= 100)
    _assert_complete_in_order(received, [p.id for p in sent[150:]])
    online.publish_health()
    health_messages = collector.wait_for(lambda m: len(_ids(m, "/health")) >= 1)
    reported = [m.json() for m in health_messages if m.topic.endswith("/health")][-1]
    assert reported["outbox"]["dropped_total"] == 150
    online.shutdown()
    collector.close()


def test_health_and_info_payloads_are_json_objects_with_schema_id_and_time(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """CX consumers route on `schema` and de-duplicate on `id`."""
    service = _service(make_config(tmp_path, broker.port))
    for payload in (service.health(), service.info()):
        document = json.loads(payload.to_json())
        assert {"schema", "id", "time"} <= document.keys()
    service.shutdown()
    assert os.path.exists(tmp_path / "state" / "outbox.sqlite3")
