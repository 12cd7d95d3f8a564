"""The store view: a tablet follows the site's other kiosks through a real broker.

Two real kiosks (engine, actions, publisher, service, outbox) share a real Mosquitto; the
first serves its staff page with `web.store_view` on and is read over real HTTP and SSE.
Foreign and malformed messages come from a plain MQTT client, as a broken device would send.
"""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.events.ids import coarse_utc, new_event_id, new_random_id
from edge.events.mood_payloads import AlertPayload, CategoryProbabilities, ModalityUse, MoodPayload
from edge.events.state_payloads import StatusPayload
from edge.events.topics import Leaf, Topics
from edge.web.store import MAX_DEVICES, STALE_S, StoreView
from tests.broker import HOST, Mosquitto
from tests.collector import Collector, wait_until
from tests.web_rig import TOKEN, Kiosk

SITE_KEY = b"site-command-key-0123456789abcdef"
STAFF = {"authorization": f"Bearer {TOKEN}"}
PREFIX = "moodsense/v1/store-7"


class SseStream:
    """A staff event stream over a real socket; each read waits at most `timeout_s`."""

    def __init__(self, base: str, timeout_s: float = 10.0) -> None:
        request = urllib.request.Request(f"{base}/api/staff/events", headers=STAFF)  # noqa: S310
        self._response = urllib.request.urlopen(request, timeout=timeout_s)  # noqa: S310

    def next(self) -> tuple[str, Any]:
        name, data = "message", ""
        for raw in self._response:
            line = raw.decode("utf-8").rstrip("\n")
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
            elif not line and data:
                return name, json.loads(data)
        raise AssertionError("stream ended")

    def until(self, predicate: Callable[[str, Any], bool], limit: int = 1000) -> Any:
        """The data of the first event that satisfies `predicate`."""
        for _ in range(limit):
            name, data = self.next()
            if predicate(name, data):
                return data
        raise AssertionError(f"no matching event in {limit}")

    def close(self) -> None:
        self._response.close()


def post(base: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers=STAFF | {"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def get_json(base: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}{path}", timeout=10) as answer:  # noqa: S310
        value: dict[str, Any] = json.loads(answer.read())
        return value


def device_event(device: str, has: Callable[[dict[str, Any]], bool]) -> Callable[[str, Any], bool]:
    return lambda name, data: name == "device" and data["device"] == device and has(data)


@pytest.fixture
def site_key(tmp_path: Path) -> Path:
    path = tmp_path / "site_command_key"
    path.write_bytes(SITE_KEY + b"\n")
    return path


@pytest.fixture
def tablet(broker: Mosquitto, tmp_path: Path, site_key: Path) -> Iterator[Kiosk]:
    """kiosk-3, whose staff page also shows the site's other kiosks."""
    rig = Kiosk(tmp_path / "kiosk-3", broker, store_view=True, site_command_key_file=site_key)
    yield rig
    rig.close()


@pytest.fixture
def sibling(broker: Mosquitto, tmp_path: Path) -> Iterator[Kiosk]:
    """kiosk-4 of the same store; it accepts commands signed with the site key."""
    rig = Kiosk(tmp_path / "kiosk-4", broker, device_id="kiosk-4", command_key=SITE_KEY)
    yield rig
    rig.close()


@contextmanager
def plain_client(broker: Mosquitto) -> Iterator[mqtt.Client]:
    """A plain MQTT client, for what a broken or foreign device would publish."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(HOST, broker.port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def raw(broker: Mosquitto) -> Iterator[mqtt.Client]:
    with plain_client(broker) as client:
        yield client


def followed(kiosk: Kiosk, devices: int) -> None:
    """Wait until the tablet's store view knows `devices` other kiosks (it is subscribed)."""
    wait_until(lambda: (kiosk.hub.store_counters() or {}).get("devices") == devices)


def send(client: mqtt.Client, topic: str, payload: bytes, retain: bool = False) -> None:
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


def status(state: str = "online") -> bytes:
    reason = "connected" if state == "online" else "connection_lost"
    return StatusPayload(
        id=new_event_id(), time=coarse_utc(time.time()), state=state, reason=reason
    ).to_json()  # type: ignore[arg-type]


def mood(interaction_id: str) -> MoodPayload:
    categories = CategoryProbabilities(
        neutral=0.1, happy=0.0, sad=0.0, angry=0.9, fearful=0.0, disgusted=0.0, surprised=0.0
    )
    return MoodPayload(
        id=new_event_id(),
        time=coarse_utc(time.time()),
        interaction_id=interaction_id,
        t_rel_s=12.0,
        state="frustrated",
        categories=categories,
        valence=-0.6,
        arousal=0.5,
        confidence=0.8,
        voice=ModalityUse(present=False, weight=0.0),
        face=ModalityUse(present=True, weight=1.0),
    )


def alert(interaction_id: str) -> AlertPayload:
    return AlertPayload(
        id=new_event_id(),
        time=coarse_utc(time.time()),
        alert_id=new_random_id(),
        interaction_id=interaction_id,
        phase="new",
        rule="frustrated",
        state="frustrated",
        duration_s=20.0,
        intensity=0.7,
        threshold=0.6,
        message="Customer frustrated for 20 s",
        acknowledged=None,
        end_reason=None,
    )


def test_a_sibling_kiosks_visit_and_alert_reach_this_tablet_and_the_ack_goes_back_signed(
    tablet: Kiosk, sibling: Kiosk
) -> None:
    """Staff on one tablet must see every kiosk of the store and send help to any of them."""
    base = tablet.serve()
    followed(tablet, 1)  # kiosk-4's retained status arrived: the store link listens
    stream = SseStream(base)
    try:
        assert stream.until(lambda n, _d: n == "store") == {"device": "kiosk-3", "remote_ack": True}
        sibling.actions.consent("grant", "kiosk")
        sibling.feed("neutral", 10)
        visiting = stream.until(device_event("kiosk-4", lambda d: bool(d["visits"])))
        assert visiting["online"] is True and visiting["alerts"] == []
        sibling.feed("angry", 30)
        view = stream.until(device_event("kiosk-4", lambda d: bool(d["alerts"])))
        assert sibling.alerts is not None  # kiosk-4's own subscriber may lag the tablet's
        sibling.alerts.wait_for(
            lambda _m: any(p["phase"] == "new" for p in sibling.alert_payloads())
        )
        sent = next(p for p in sibling.alert_payloads() if p["phase"] == "new")
        shown = view["alerts"][0]
        assert shown["alert_id"] == sent["alert_id"] and shown["state"] == "frustrated"
        assert shown["acknowledged"] is None and shown["for_s"] >= sent["duration_s"]
        assert view["visits"][0]["state"] == "frustrated"
        # Anonymous: the visit is shown by a short reference, never by its id.
        assert sent["interaction_id"] not in json.dumps(view)
        assert view["visits"][0]["ref"] == sent["interaction_id"][-6:]

        code, answer = post(
            base, "/api/staff/remote-ack", {"device": "kiosk-4", "alert_id": sent["alert_id"]}
        )
        assert (code, answer) == (
            200,
            {"ok": True, "requested": sent["alert_id"], "device": "kiosk-4"},
        )
        result_topic = Topics("moodsense/v1", "store-7", "kiosk-4").command_result("ack")
        sibling.alerts.wait_for(lambda m: any(x.topic == result_topic for x in m))
        assert sibling.alerts.snapshot(result_topic)[0].json()["ok"] is True
        sibling.feed("angry", 12)  # the acknowledgement travels in the alert's next update
        acked = stream.until(
            device_event("kiosk-4", lambda d: bool(d["alerts"] and d["alerts"][0]["acknowledged"]))
        )
        assert acked["alerts"][0]["acknowledged"]["via"] == "mqtt"
        again = post(
            base, "/api/staff/remote-ack", {"device": "kiosk-4", "alert_id": sent["alert_id"]}
        )
        assert again[0] == 409  # already acknowledged: nothing more is sent
    finally:
        stream.close()
    # Own events never came back through the broker; kiosk-4's were all valid.
    assert tablet.hub.store_counters() == {"devices": 1, "ignored": {}}


def test_malformed_and_foreign_messages_from_a_sibling_are_counted_and_ignored(
    tablet: Kiosk, raw: mqtt.Client
) -> None:
    """A broken or foreign device must never break the store's tablets, nor pass unnoticed."""
    base = tablet.serve()
    send(raw, f"{PREFIX}/kiosk-9/status", status(), retain=True)
    followed(tablet, 1)
    visit = new_random_id()
    with_extra = json.loads(mood(visit).to_json()) | {"face_embedding": [0.1, 0.2]}
    bad = [
        (f"{PREFIX}/kiosk-9/mood", b"\xff not json"),
        (f"{PREFIX}/kiosk-9/mood", json.dumps(with_extra).encode()),
        (f"{PREFIX}/kiosk-9/mood", mood(visit).to_json().replace(b'"mood/1"', b'"mood/2"')),
        (f"{PREFIX}/kiosk-9/alert", mood(visit).to_json()),  # a mood on the alert leaf
        (f"{PREFIX}/-kiosk/mood", mood(visit).to_json()),  # not a device id of the contract
    ]
    for topic, payload in bad:
        send(raw, topic, payload)
    last = alert(visit)
    send(raw, f"{PREFIX}/kiosk-9/alert", last.to_json())  # a good one after the bad ones
    wait_until(lambda: tablet.hub.remote_alert_open("kiosk-9", last.alert_id))
    counted = {"devices": 1, "ignored": {"payload": 4, "topic": 1}}
    assert tablet.hub.store_counters() == counted
    assert get_json(base, "/healthz")["store"] == counted
    stream = SseStream(base)
    try:
        view = stream.until(device_event("kiosk-9", lambda _d: True))
        assert [a["alert_id"] for a in view["alerts"]] == [last.alert_id]
        assert view["visits"] == []  # no mood of that visit was valid
    finally:
        stream.close()


def test_without_a_site_key_remote_acks_are_refused_before_anything_is_sent(
    broker: Mosquitto, tmp_path: Path, raw: mqtt.Client
) -> None:
    """A tablet that cannot sign must say so, not send commands the kiosk would refuse."""
    tablet = Kiosk(tmp_path / "kiosk-3", broker, store_view=True)
    commands = Collector(broker.port, f"{PREFIX}/kiosk-9/cmd/#")
    try:
        base = tablet.serve()
        send(raw, f"{PREFIX}/kiosk-9/status", status(), retain=True)
        open_alert = alert(new_random_id())
        send(raw, f"{PREFIX}/kiosk-9/alert", open_alert.to_json())
        wait_until(lambda: tablet.hub.remote_alert_open("kiosk-9", open_alert.alert_id))
        stream = SseStream(base)
        try:
            intro = stream.until(lambda n, _d: n == "store")
        finally:
            stream.close()
        assert intro == {"device": "kiosk-3", "remote_ack": False}
        body = {"device": "kiosk-9", "alert_id": open_alert.alert_id}
        code, answer = post(base, "/api/staff/remote-ack", body)
        assert code == 409 and "no site command key" in answer["error"]
        unknown = post(base, "/api/staff/remote-ack", body | {"alert_id": new_random_id()})
        assert unknown[0] == 409 and "no open alert" in unknown[1]["error"]
        assert post(base, "/api/staff/remote-ack", body | {"device": "a/b"})[0] == 422
        send(raw, f"{PREFIX}/kiosk-9/cmd/ping", b"{}")  # a marker after the refusals
        commands.wait_for(lambda m: bool(m))
        assert [m.topic for m in commands.snapshot()] == [f"{PREFIX}/kiosk-9/cmd/ping"]
    finally:
        commands.close()
        tablet.close()


def test_a_kiosk_refusing_the_ack_is_reported_to_the_tablet_that_sent_it(
    broker: Mosquitto, tmp_path: Path, sibling: Kiosk
) -> None:
    """A wrong key must not look like help was announced: staff must learn it did not work."""
    wrong = tmp_path / "wrong_key"
    wrong.write_bytes(b"not-the-site-key-0123456789abcdef")
    tablet = Kiosk(tmp_path / "kiosk-3", broker, store_view=True, site_command_key_file=wrong)
    try:
        base = tablet.serve()
        followed(tablet, 1)
        stream = SseStream(base)
        try:
            sibling.actions.consent("grant", "kiosk")
            sibling.feed("neutral", 10)
            sibling.feed("angry", 30)
            view = stream.until(device_event("kiosk-4", lambda d: bool(d["alerts"])))
            alert_id = view["alerts"][0]["alert_id"]
            body = {"device": "kiosk-4", "alert_id": alert_id}
            assert post(base, "/api/staff/remote-ack", body)[0] == 200  # sent...
            refused = stream.until(lambda name, _d: name == "remote_ack")
            assert refused == {
                "device": "kiosk-4",
                "alert_id": alert_id,
                "error": "unauthenticated",
            }
        finally:
            stream.close()
        assert tablet.hub.remote_alert_open("kiosk-4", alert_id)  # ...and still open there
    finally:
        tablet.close()


def test_the_store_view_forgets_what_it_can_no_longer_vouch_for() -> None:
    """A kiosk that went offline, a missed `end` or a flood of devices must not leave stale
    customers on a tablet or grow its memory without bound."""
    view = StoreView(Topics("moodsense/v1", "store-7", "kiosk-3"), can_ack=False)
    visit = new_random_id()
    assert view.apply(f"{PREFIX}/kiosk-4/mood", mood(visit).to_json(), 0.0) == ["kiosk-4"]
    assert view.apply(f"{PREFIX}/kiosk-3/mood", mood(visit).to_json(), 0.0) == []  # ourselves
    assert json.loads(view.view("kiosk-4", 5.0))["visits"][0]["for_s"] == 17.0
    assert view.apply(f"{PREFIX}/kiosk-5/status", status(), 1.0) == ["kiosk-5"]
    assert view.prune(STALE_S + 1.0) == ["kiosk-4"]  # its end was missed
    assert json.loads(view.view("kiosk-4", STALE_S + 1.0))["visits"] == []
    view.apply(f"{PREFIX}/kiosk-5/alert", alert(visit).to_json(), 2.0)
    view.apply(f"{PREFIX}/kiosk-5/status", status("offline"), 3.0)
    gone = json.loads(view.view("kiosk-5", 3.0))
    assert gone["online"] is False and gone["alerts"] == []
    view.apply(f"{PREFIX}/kiosk-5/status", status(), 3.5)
    view.apply(f"{PREFIX}/kiosk-5/mood", mood(visit).to_json(), 3.5)
    assert view.link_down() == ["kiosk-4", "kiosk-5"]  # our broker link dropped
    unknown = json.loads(view.view("kiosk-5", 3.6))
    assert unknown["online"] is None and unknown["visits"] == []
    assert view.apply(f"{PREFIX}/kiosk-5/status", b"", 4.0) == ["kiosk-5"]  # decommissioned
    assert json.loads(view.view("kiosk-5", 4.0)) == {"device": "kiosk-5", "gone": True}
    for n in range(MAX_DEVICES + 5):
        view.apply(f"{PREFIX}/k{n}/{Leaf.STATUS.value}", status(), 5.0)
    assert len(view.devices()) == MAX_DEVICES and view.ignored["too_many_devices"] == 6
