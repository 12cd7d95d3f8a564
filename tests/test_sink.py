"""The fleet sink against a real Mosquitto and a real PostgreSQL: contract validation, dead
letters, idempotent writes, shared-subscription load sharing, and a sink killed mid-run."""

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydantic import ValidationError

from edge.events.ids import new_event_id
from edge.sink.config import SinkConfig, load_sink_secrets
from edge.sink.migrate import migration_files
from edge.sink.service import SinkService
from tests import samples
from tests.broker import HOST, Mosquitto
from tests.collector import Collector, wait_until
from tests.postgres import Postgres, find_bin_dir, unavailable_reason
from tests.sink_fleet import (
    REPO,
    SinkProcess,
    count,
    emit,
    emit_round,
    publish_raw,
    sink_config,
    sink_settings,
    start_device,
)
from tests.test_tls import ca, tls_broker  # noqa: F401 (fixtures shared with the TLS tests)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session; each test gets its own database."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    server = Postgres(bin_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dsn(postgres: Postgres) -> str:
    """A fresh, empty database (the sink migrates it)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return postgres.dsn(name)


@pytest.fixture
def sink(broker: Mosquitto, dsn: str) -> Iterator[SinkService]:
    """An in-process sink, subscribed before the test publishes."""
    config = sink_config(broker.port, dsn)
    service = SinkService(config, load_sink_secrets(config))
    service.start()
    wait_until(service.subscribed.is_set, 10)
    yield service
    service.stop()


def test_every_payload_type_from_a_real_device_lands_once_in_its_table(
    broker: Mosquitto, sink: SinkService, dsn: str, tmp_path: Path
) -> None:
    """The CX backend's tables are only as good as what the device code really sends."""
    device = start_device(tmp_path, broker.port, "store-7", "kiosk-3")
    payloads = samples.event_payloads()
    for payload in payloads:
        emit(device, payload)
    # Health is live-only (never spooled): send it once the device is connected.
    wait_until(lambda: device.link is not None and device.link.connected, 10)
    device.publish_health()
    kinds = [p.model_dump(by_alias=True)["schema"].split("/")[0] for p in payloads]
    expected = {k: kinds.count(k) for k in ("mood", "interaction", "alert", "survey")}
    queries = {
        "mood": "SELECT count(*) FROM mood_events "
        "WHERE site_id = 'store-7' AND device_id = 'kiosk-3'",
        "interaction": "SELECT count(*) FROM interactions",
        "alert": "SELECT count(*) FROM alerts",
        "survey": "SELECT count(*) FROM surveys WHERE site_id = 'store-7' AND answer = 4",
    }
    state_kinds = (
        "SELECT count(*) FROM device_state WHERE kind IN ('status','info','consent','health')"
    )
    wait_until(
        lambda: (
            all(count(dsn, queries[k]) == n for k, n in expected.items())
            and count(dsn, state_kinds) == 4
        ),
        20,
    )
    assert expected["alert"] >= 1 and expected["interaction"] == 2 and expected["survey"] == 1
    # The self-report joins the interaction it followed, by the id the device published.
    linked = (
        "SELECT count(*) FROM surveys s JOIN interactions i USING (interaction_id) "
        "WHERE i.phase = 'end' AND s.payload->>'scale' = 'faces5'"
    )
    assert count(dsn, linked) == 1
    device.shutdown()
    offline = (
        "SELECT count(*) FROM device_state WHERE kind = 'status' AND payload->>'state' = 'offline'"
    )
    wait_until(lambda: count(dsn, offline) == 1, 10)
    assert (
        count(
            dsn, "SELECT count(*) FROM interactions WHERE phase = 'end' AND trajectory IS NOT NULL"
        )
        == 1
    )
    assert count(dsn, "SELECT count(*) FROM dead_letters") == 0
    assert sink.stats().duplicates_total == 0


def test_an_event_delivered_twice_is_stored_once(
    broker: Mosquitto, sink: SinkService, dsn: str
) -> None:
    """Devices deliver at least once; dashboards must count each event exactly once."""
    mood, alert = samples.mood(), samples.event_payloads()
    alert_payload = next(p for p in alert if p.model_dump(by_alias=True)["schema"] == "alert/1")
    base = "moodsense/v1/store-7/kiosk-3"
    twice = [(f"{base}/mood", mood.to_json()), (f"{base}/alert", alert_payload.to_json())] * 2
    publish_raw(broker.port, twice)
    wait_until(lambda: sink.stats().received_total == 4, 10)
    assert count(dsn, "SELECT count(*) FROM mood_events WHERE id = %s", mood.id) == 1
    assert count(dsn, "SELECT count(*) FROM alerts WHERE id = %s", alert_payload.id) == 1
    assert sink.stats().duplicates_total == 2


def test_invalid_payloads_become_dead_letters_and_the_sink_keeps_going(
    broker: Mosquitto, sink: SinkService, dsn: str
) -> None:
    """One broken or hostile device must not stop ingestion for the whole fleet."""
    base = "moodsense/v1/store-7/kiosk-3"
    good = samples.mood()
    extra = good.to_json()[:-1] + b',"face_crop":"AAAA"}'
    bad = [
        (f"{base}/mood", b"\xff not json"),
        (f"{base}/mood", b'{"schema": "mood/1"}'),
        (f"{base}/mood", extra),
        (f"{base}/alert", samples.mood().to_json()),
        (
            f"{base}/mood",
            samples.mood().model_copy(update={"time": "2026-13-40T00:00:00Z"}).to_json(),
        ),
        (f"{base}/mood", samples.mood().to_json().replace(b'"valence":-0.6', b'"valence":NaN')),
        ("moodsense/v1/store 7/kiosk-3/mood", samples.mood().to_json()),
    ]
    publish_raw(broker.port, [*bad, (f"{base}/mood", good.to_json())])
    wait_until(lambda: count(dsn, "SELECT count(*) FROM mood_events WHERE id = %s", good.id) == 1)
    wait_until(lambda: count(dsn, "SELECT count(*) FROM dead_letters") == len(bad))
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            b"SELECT topic, payload, reason FROM dead_letters ORDER BY id"
        ).fetchall()
    assert [bytes(r[1]) for r in rows] == [payload for _t, payload in bad]
    reasons = " | ".join(str(r[2]) for r in rows)
    for fragment in ("not UTF-8 JSON", "face_crop", "does not belong", "valid UTC time", "site"):
        assert fragment in reasons
    assert sink.stats().dead_letters_total == len(bad)


def test_mood_events_go_to_monthly_partitions_created_on_demand(
    broker: Mosquitto, sink: SinkService, dsn: str
) -> None:
    """Months of mood samples must stay cheap to query and to drop."""
    times = ["2025-01-31T23:59:59Z", "2025-02-01T00:00:00Z", "2025-02-14T12:00:00Z"]
    events = [samples.mood().model_copy(update={"time": t}) for t in times]
    publish_raw(broker.port, [("moodsense/v1/s1/k1/mood", e.to_json()) for e in events])
    wait_until(lambda: count(dsn, "SELECT count(*) FROM mood_events") == 3)
    assert count(dsn, "SELECT count(*) FROM mood_events_y2025m01") == 1
    assert count(dsn, "SELECT count(*) FROM mood_events_y2025m02") == 2
    assert count(dsn, "SELECT count(*) FROM schema_migrations") == len(migration_files())


def _fleet_sinks(tmp_path: Path, port: int, dsn: str) -> list[SinkProcess]:
    """Three sink processes in one group, each with its own stable client id."""
    return [
        SinkProcess(tmp_path / f"sink-{i}.yaml", sink_settings(port, dsn, client_id=f"sink-{i}"))
        for i in range(3)
    ]


STORED_BY_0 = "SELECT count(*) FROM mood_events WHERE sink = 'sink-0'"


def test_three_sinks_split_the_load_and_a_killed_one_loses_nothing(
    broker: Mosquitto, dsn: str, tmp_path: Path
) -> None:
    """A sink crash (OOM, deploy, kill -9) must neither lose nor double-count events."""
    sinks = _fleet_sinks(tmp_path, broker.port, dsn)
    devices = [start_device(tmp_path, broker.port, "store-1", f"kiosk-{i}") for i in range(4)]
    try:
        for process in sinks:
            process.spawn()
        for process in sinks:
            process.wait_ready()
        sent: list[str] = []
        while_down: list[str] = []
        for step in range(8):
            if step == 2:
                # Freeze sink-0 first so the broker has messages out to it, unacknowledged,
                # when it dies; then kill it while the devices keep publishing.
                wait_until(lambda: count(dsn, STORED_BY_0) > 0, 20)
                sinks[0].freeze()
            if step == 3:
                sinks[0].kill()
            if step == 6:
                sinks[0].start()  # same client id: its broker session, held messages included
            batch = emit_round(devices, 25)
            sent += batch
            if 2 <= step < 6:
                while_down += batch
        wait_until(
            lambda: count(dsn, "SELECT count(DISTINCT id) FROM mood_events") == len(sent), 60
        )
        assert count(dsn, "SELECT count(*) FROM mood_events") == len(sent)
        assert count(dsn, "SELECT count(*) FROM mood_events WHERE id = ANY(%s)", sent) == len(sent)
        by_sink = {
            f"sink-{i}": count(dsn, "SELECT count(*) FROM mood_events WHERE sink = %s", f"sink-{i}")
            for i in range(3)
        }
        assert all(n > 0 for n in by_sink.values()), by_sink
        assert any("session present: True" in line for line in sinks[0].lines)
        # The broker held sink-0's share while it was down and handed it over on restart.
        held = "SELECT count(*) FROM mood_events WHERE sink = 'sink-0' AND id = ANY(%s)"
        assert count(dsn, held, while_down) > 0
    finally:
        for device in devices:
            device.shutdown()
        for process in sinks:
            process.stop()


def test_while_the_database_is_unreachable_nothing_is_acknowledged_or_lost(
    broker: Mosquitto, sink: SinkService, dsn: str, postgres: Postgres
) -> None:
    """Database restarts and failovers happen; the broker must keep what is not committed."""
    name = dsn.rsplit("dbname=", 1)[1]
    with psycopg.connect(postgres.dsn(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false".encode())
        admin.execute(
            b"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        events = [samples.mood() for _ in range(50)]
        publish_raw(broker.port, [("moodsense/v1/s1/k1/mood", e.to_json()) for e in events])
        wait_until(lambda: sink.stats().write_failures_total >= 1, 10)
        assert sink.stats().stored_total == 0
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true".encode())
    wait_until(lambda: count(dsn, "SELECT count(*) FROM mood_events") == len(events), 20)
    assert sink.stats().stored_total == len(events)


def test_sink_config_refuses_passwords_in_the_file_and_needs_a_broker() -> None:
    """Database and broker passwords must come from files or credentials, never the YAML."""
    base = sink_settings(1883, "host=db dbname=cx user=sink")
    for bad in (
        {"database": {"dsn": "host=db dbname=cx user=sink password=hunter2"}},
        {"database": {"dsn": "postgresql://sink:hunter2@db/cx"}},
        {"database": {"dsn": "host=db", "password": "hunter2"}},
        {"mqtt": {"tls": {"enabled": False}}},
        {"group": "cx/all"},
    ):
        with pytest.raises(ValidationError):
            SinkConfig(**(base | bad))
    config = SinkConfig(**base)
    assert config.share_filter == "$share/cx/moodsense/v1/#"


def test_sink_secrets_come_from_files_and_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Operators pass passwords via systemd LoadCredential=; the sink must find them there."""
    (tmp_path / "mqtt_password").write_text("broker-pw\n")
    (tmp_path / "sink_db_password").write_text("db-pw\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    secrets = load_sink_secrets(SinkConfig(**sink_settings(1883, "host=db dbname=cx user=sink")))
    assert (secrets.mqtt.mqtt_password, secrets.db_password) == ("broker-pw", "db-pw")
    assert secrets.mqtt.command_key is None and "pw" not in repr(secrets)


def test_the_dashboard_queries_in_the_docs_run_on_real_rows(
    broker: Mosquitto, sink: SinkService, dsn: str
) -> None:
    """Documented queries are what CX teams copy; they must match the schema."""
    payloads = samples.event_payloads()
    messages = [
        (
            f"moodsense/v1/{site}/kiosk-1/{p.model_dump(by_alias=True)['schema'].split('/')[0]}",
            p.to_json(),
        )
        for site in ("store-1", "store-2")
        for p in (payloads if site == "store-1" else samples.event_payloads())
    ]
    publish_raw(broker.port, messages)
    wait_until(lambda: sink.stats().received_total == len(messages), 20)
    text = (REPO / "docs" / "sink.md").read_text()
    queries = re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)
    assert len(queries) >= 6
    with psycopg.connect(dsn, autocommit=True) as conn:
        results = [conn.execute(query.encode()).fetchall() for query in queries]
    assert all(results[:4]), "alert, interaction and peak-end queries return rows"
    sensed_vs_stated = results[next(i for i, q in enumerate(queries) if "JOIN surveys" in q)]
    # Per store: one ended interaction, surveyed with a 4 (stated valence 0.5).
    assert [(row[0], row[2], row[3], float(row[4])) for row in sensed_vs_stated] == [
        ("store-1", 1, 1, 0.5),
        ("store-2", 1, 1, 0.5),
    ]


def test_the_sink_command_says_why_it_cannot_start_and_exits_non_zero(tmp_path: Path) -> None:
    """Under systemd one clear line and the exit code are all an operator sees."""
    bad = SinkProcess(tmp_path / "bad.yaml", sink_settings(1883, "host=db password=x"))
    no_db = SinkProcess(
        tmp_path / "no-db.yaml",
        sink_settings(1883, "host=127.0.0.1 port=1 dbname=x user=y"),
    )
    results = [
        subprocess.run(
            [sys.executable, "-m", "edge.sink", "sink", "--config", str(p.config_file)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        for p in (bad, no_db)
    ]
    assert (results[0].returncode, results[1].returncode) == (2, 1)
    assert "database.dsn: must not contain a password" in results[0].stderr
    assert results[1].stderr.count("\n") == 1 and "cannot start: database" in results[1].stderr


def test_the_sink_reaches_the_broker_over_tls_verified_against_its_ca(
    tls_broker: tuple[Mosquitto, int, Path],  # noqa: F811 (the imported fixture)
    dsn: str,
) -> None:
    """Events cross the retailer's network to the backend too; same TLS rules as the device."""
    broker, plain_port, ca_file = tls_broker
    tls = {"host": HOST, "port": broker.port, "tls": {"enabled": True, "ca_file": str(ca_file)}}
    config = sink_config(broker.port, dsn, mqtt=tls)
    service = SinkService(config, load_sink_secrets(config))
    service.start()
    try:
        wait_until(service.subscribed.is_set, 10)
        event = samples.mood()
        publish_raw(plain_port, [("moodsense/v1/s1/k1/mood", event.to_json())])
        wait_until(lambda: count(dsn, "SELECT count(*) FROM mood_events") == 1)
    finally:
        service.stop()


def test_a_new_sink_fills_device_state_from_the_retained_status_and_info(
    broker: Mosquitto, dsn: str, tmp_path: Path
) -> None:
    """A backend deployed after the kiosks must still know which ones are online."""
    device = start_device(tmp_path, broker.port, "store-2", "kiosk-9")
    watcher = Collector(broker.port, "moodsense/v1/store-2/kiosk-9/info")
    watcher.wait_for(lambda m: len(m) == 1)  # retained at the broker now
    watcher.close()
    config = sink_config(broker.port, dsn)
    service = SinkService(config, load_sink_secrets(config))
    service.start()
    try:
        wait_until(lambda: count(dsn, "SELECT count(*) FROM device_state") == 2)
        online = "SELECT count(*) FROM device_state WHERE payload->>'state' = 'online'"
        assert count(dsn, online) == 1
    finally:
        service.stop()
        device.shutdown()


def test_a_row_the_database_refuses_is_dead_lettered_alone(
    broker: Mosquitto, sink: SinkService, dsn: str
) -> None:
    """A schema-valid event PostgreSQL rejects must not block the events batched with it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(b"ALTER TABLE alerts ADD CONSTRAINT no_poison CHECK (rule <> 'poison')")
    alerts = [
        p for p in samples.event_payloads() if p.model_dump(by_alias=True)["schema"] == "alert/1"
    ]
    poison = alerts[0].model_copy(update={"rule": "poison", "id": new_event_id()})
    mood = samples.mood()
    base = "moodsense/v1/s1/k1"
    messages = [(f"{base}/alert", poison.to_json()), (f"{base}/mood", mood.to_json())]
    messages += [(f"{base}/alert", alert.to_json()) for alert in alerts]
    publish_raw(broker.port, messages)
    wait_until(lambda: sink.stats().received_total == len(messages))
    with psycopg.connect(dsn) as conn:
        dead = conn.execute(b"SELECT payload, reason FROM dead_letters").fetchall()
    assert [bytes(d[0]) for d in dead] == [poison.to_json()]
    assert "refused by the database" in str(dead[0][1])
    assert count(dsn, "SELECT count(*) FROM alerts") == len(alerts)
    assert count(dsn, "SELECT count(*) FROM mood_events WHERE id = %s", mood.id) == 1
