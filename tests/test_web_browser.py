"""The kiosk screen and staff tablet in real headless Chromium, against the real pipeline.

One browser per module; each test gets fresh pages and its own kiosk (engine, actions,
publisher, service, web server). Waits are Playwright's `expect` with deadlines, never sleeps.
"""

import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from edge.web.security import SESSION_COOKIE
from edge.web.token import StaffToken
from tests.broker import Mosquitto
from tests.collector import wait_until
from tests.test_web_store import alert, followed, plain_client, send, status
from tests.web_rig import TOKEN, Kiosk

CHROMIUM = os.environ.get("MOODSENSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install chromium"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    rig = Kiosk(tmp_path)
    yield rig
    rig.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    instance = browser.new_context(viewport={"width": 1280, "height": 800})
    instance.set_default_timeout(5000)
    yield instance
    instance.close()


def staff_page(context: BrowserContext, base: str) -> Page:
    """The tablet, already paired (the pairing itself is tested below)."""
    context.add_cookies(
        [{"name": SESSION_COOKIE, "value": StaffToken(TOKEN).session(), "url": base}]
    )
    page = context.new_page()
    page.goto(f"{base}/staff")
    expect(page.locator("#consent")).not_to_be_empty()
    return page


def kiosk_page(context: BrowserContext, base: str) -> Page:
    page = context.new_page()
    page.goto(f"{base}/kiosk")
    expect(page.locator("#notice")).to_be_visible()
    return page


def consenting_customer(kiosk: Kiosk, context: BrowserContext, label: str) -> Page:
    """A customer taps "Yes" on the kiosk and stands in front of it for a few seconds."""
    page = kiosk_page(context, kiosk.serve())
    page.get_by_role("button", name="Yes, sense my mood").click()
    expect(page.locator("#sensing")).to_be_visible()
    kiosk.feed(label, 8)
    return page


def test_no_thanks_is_the_default_and_nothing_is_processed(
    kiosk: Kiosk, context: BrowserContext
) -> None:
    """Declining (or doing nothing) must leave every frame unprocessed: the core privacy promise."""
    page = kiosk_page(context, kiosk.serve())
    expect(page.locator("#no")).to_be_focused()
    page.locator("#no").click()
    expect(page.locator("#message")).to_contain_text("nothing is sensed")
    kiosk.feed("angry", 20)
    assert kiosk.actions.state().consent == "none"
    counters = kiosk.engine.gate.counters
    assert (counters.admitted_frames, counters.dropped_frames) == (0, 20)
    assert "interaction" not in kiosk.publisher.published
    expect(page.locator("#sensing")).to_be_hidden()


def test_yes_shows_sensing_on_and_one_tap_withdraws_within_a_second(
    kiosk: Kiosk, context: BrowserContext
) -> None:
    """Consent must be visible while it lasts and stoppable at once, at any time."""
    page = consenting_customer(kiosk, context, "neutral")
    assert kiosk.actions.state().consent == "active"
    started = time.monotonic()
    page.get_by_role("button", name="Stop sensing").click()
    expect(page.locator("#sensing")).to_be_hidden(timeout=1000)
    assert time.monotonic() - started < 1.0
    assert kiosk.actions.state().consent == "none"
    expect(page.locator("#message")).to_contain_text("cleared")
    before = kiosk.engine.gate.counters.dropped_frames
    kiosk.feed("neutral", 5)
    assert kiosk.engine.gate.counters.dropped_frames == before + 5


def test_an_alert_shows_on_the_tablet_and_its_ack_reaches_mqtt(
    broker: Mosquitto, tmp_path: Path, context: BrowserContext
) -> None:
    """Staff must see a frustrated customer at once, and the backend must learn help is coming."""
    kiosk = Kiosk(tmp_path, broker)
    try:
        page = staff_page(context, kiosk.serve())
        kiosk.actions.consent("grant", "kiosk")
        kiosk.feed("neutral", 10)
        kiosk.feed("angry", 30)
        alert = page.locator("#alerts li")
        expect(alert).to_have_count(1)
        expect(alert).to_contain_text("Frustrated")
        expect(page.locator("#interactions li")).to_contain_text("Frustrated")
        with page.expect_response("**/api/staff/ack") as response:
            alert.get_by_role("button", name="Acknowledge").click()
        assert response.value.ok
        kiosk.feed("angry", 12)  # the acknowledgement travels in the alert's next update
        assert kiosk.alerts is not None
        kiosk.alerts.wait_for(
            lambda _m: any(
                p["phase"] == "update" and (p["acknowledged"] or {}).get("via") == "tablet"
                for p in kiosk.alert_payloads()
            )
        )
        expect(alert).to_contain_text("Acknowledged")
        kiosk.feed(None, 12)  # the customer leaves: alert ends, visit summarised
        expect(page.locator("#alerts li")).to_have_count(0)
        expect(page.locator("#summaries li")).to_contain_text("Frustrated")
    finally:
        kiosk.close()


def test_the_staff_switch_pauses_scoring_and_the_kiosk_shows_it(
    kiosk: Kiosk, context: BrowserContext
) -> None:
    """Staff must never be scored, and the customer must see that sensing is off."""
    base = kiosk.serve()
    screen = kiosk_page(context, base)
    tablet = staff_page(context, base)
    tablet.get_by_role("switch", name=re.compile("Staff at the kiosk")).check()
    expect(screen.locator("#paused")).to_be_visible()
    expect(screen.locator("#notice")).to_be_hidden()
    assert kiosk.actions.state().consent == "paused"
    kiosk.feed("angry", 5)
    assert kiosk.engine.gate.counters.admitted_frames == 0
    tablet.get_by_role("switch", name=re.compile("Staff at the kiosk")).uncheck()
    expect(screen.locator("#notice")).to_be_visible()
    assert kiosk.actions.state().consent == "none"


def test_the_survey_records_one_answer_for_the_interaction_that_ended(
    kiosk: Kiosk, context: BrowserContext
) -> None:
    """Self-reports measure accuracy in the field; each must belong to exactly one visit."""
    page = consenting_customer(kiosk, context, "happy")
    interaction_id = kiosk.actions.state().interaction_id
    kiosk.feed(None, 12)  # the customer walks away
    expect(page.locator("#survey")).to_be_visible()
    page.get_by_role("button", name="Happy", exact=True).click()
    expect(page.locator("#message")).to_have_text("Thank you!")
    expect(page.locator("#notice")).to_be_visible()
    assert kiosk.survey.answers == [(interaction_id, 4)]
    page.reload()
    expect(page.locator("#survey")).to_be_hidden()  # answered once, not offered again


def test_the_tablet_reconnects_after_a_server_restart(
    kiosk: Kiosk, context: BrowserContext
) -> None:
    """A restarting service must not leave a tablet silently stale."""
    base = kiosk.serve()
    page = staff_page(context, base)
    port = kiosk.stop_server()
    expect(page.locator("#offline")).to_contain_text(re.compile(r"Offline since \d\d:\d\d:\d\d"))
    kiosk.serve(port)
    expect(page.locator("#offline")).to_be_hidden(timeout=10_000)
    kiosk.actions.staff(True, "staff")
    expect(page.locator("#consent")).to_have_text("Paused: staff at the kiosk")


def test_staff_pages_are_refused_without_the_token(kiosk: Kiosk, context: BrowserContext) -> None:
    """Alerts describe customers' moods; only paired staff devices may see them."""
    base = kiosk.serve()
    page = context.new_page()
    page.goto(f"{base}/staff")
    expect(page).to_have_url(f"{base}/pair")
    stream = page.request.get(f"{base}/api/staff/events")
    assert stream.status == 401
    page.get_by_label("Device token").fill("not-the-token-at-all")
    page.get_by_role("button", name="Pair").click()
    expect(page.locator(".error")).to_have_text("That token was not accepted.")
    page.get_by_label("Device token").fill(TOKEN)
    page.get_by_role("button", name="Pair").click()
    expect(page).to_have_url(f"{base}/staff")
    expect(page.locator("#consent")).to_have_text("Waiting for a customer's consent")


def test_the_pages_run_under_the_strict_csp_without_errors(
    kiosk: Kiosk, context: BrowserContext
) -> None:
    """A CSP violation or script error would leave a screen silently dead in a store."""
    base = kiosk.serve()
    errors: list[str] = []  # Chromium reports CSP violations and 404s as console errors
    context.on("weberror", lambda error: errors.append(str(error.error)))
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pages = [kiosk_page(context, base), staff_page(context, base)]
    kiosk.actions.consent("grant", "kiosk")
    expect(pages[0].locator("#sensing")).to_be_visible()
    expect(pages[1].locator("#consent")).to_have_text("Consent given: waiting for the customer")
    for page in pages:
        page.reload()
    expect(pages[0].locator("#sensing")).to_be_visible()
    assert errors == []


SITE_KEY = b"site-command-key-0123456789abcdef"


def signed_per_the_contract(topic: str, request: dict[str, object], key: bytes) -> bool:
    """Check a command's `sig` the way docs/mqtt.md tells a receiver to."""
    fields = {name: request[name] for name in ("args", "id", "issued_at", "nonce")}
    text = json.dumps(
        fields | {"topic": topic}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    return hmac.compare_digest(hmac.new(key, text, hashlib.sha256).hexdigest(), str(request["sig"]))


def test_another_kiosks_alert_shows_here_and_its_ack_reaches_that_kiosk_signed(
    broker: Mosquitto, tmp_path: Path, context: BrowserContext
) -> None:
    """Staff carry one tablet for the whole store: they must see and answer every kiosk."""
    key_file = tmp_path / "site_command_key"
    key_file.write_bytes(SITE_KEY)
    tablet = Kiosk(tmp_path / "kiosk-3", broker, store_view=True, site_command_key_file=key_file)
    sibling = Kiosk(tmp_path / "kiosk-4", broker, device_id="kiosk-4", command_key=SITE_KEY)
    errors: list[str] = []  # a script error would leave the other kiosks silently missing
    context.on("weberror", lambda error: errors.append(str(error.error)))
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page = staff_page(context, tablet.serve())
        expect(page.locator("#own-device")).to_have_text("kiosk-3 (this kiosk)")
        other = page.locator("#devices li.device")
        expect(other).to_contain_text("kiosk-4")
        expect(other).to_contain_text("Online")
        sibling.actions.consent("grant", "kiosk")
        sibling.feed("neutral", 10)
        sibling.feed("angry", 30)
        remote = page.locator("#alerts li.remote")
        expect(remote).to_have_count(1)
        expect(remote).to_contain_text("kiosk-4")
        expect(remote).to_contain_text("Frustrated")
        expect(other).to_contain_text("Frustrated")
        with page.expect_response("**/api/staff/remote-ack") as response:
            remote.get_by_role("button", name="Acknowledge").click()
        assert response.value.ok
        expect(remote.get_by_role("button")).to_have_text("Sent to kiosk-4…")
        topic = sibling.service.topics.command("ack")
        assert sibling.alerts is not None
        sibling.alerts.wait_for(lambda m: any(x.topic == topic for x in m))
        request = sibling.alerts.snapshot(topic)[0].json()
        assert signed_per_the_contract(topic, request, SITE_KEY)
        open_alert = next(p for p in sibling.alert_payloads() if p["phase"] == "new")
        assert request["args"] == {"alert_id": open_alert["alert_id"]}
        # kiosk-4 takes the command on its MQTT thread: feed only once it has answered, or its
        # updates may all go out before the acknowledgement is recorded
        result = sibling.service.topics.command_result("ack")
        sibling.alerts.wait_for(lambda m: any(x.topic == result for x in m))
        sibling.feed("angry", 12)  # kiosk-4 shows the acknowledgement in its next update
        expect(remote).to_contain_text("Acknowledged")
        sibling.feed(None, 12)  # the customer leaves: the alert ends on kiosk-4
        expect(page.locator("#alerts li")).to_have_count(0)
        expect(other).to_contain_text("No customer is being sensed")
        assert errors == []
    finally:
        sibling.close()
        tablet.close()


def test_without_a_site_key_a_remote_ack_button_is_disabled_and_says_why(
    broker: Mosquitto, tmp_path: Path, context: BrowserContext
) -> None:
    """A button that cannot work must say so, not fail silently when staff rely on it."""
    tablet = Kiosk(tmp_path / "kiosk-3", broker, store_view=True)
    try:
        with plain_client(broker) as raw:
            page = staff_page(context, tablet.serve())
            send(raw, "moodsense/v1/store-7/kiosk-9/status", status(), retain=True)
            followed(tablet, 1)
            open_alert = alert("0" * 26)
            send(raw, "moodsense/v1/store-7/kiosk-9/alert", open_alert.to_json())
            wait_until(lambda: tablet.hub.remote_alert_open("kiosk-9", open_alert.alert_id))
            button = page.locator("#alerts li.remote").get_by_role("button", name="Acknowledge")
            expect(button).to_be_disabled()
            expect(button).to_have_accessible_description(re.compile("no site command key"))
            expect(page.locator("#alerts li.remote .ack-reason")).to_be_visible()
    finally:
        tablet.close()
