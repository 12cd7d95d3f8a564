"""The web app at the HTTP level: who may do what, from where, how often, with which headers.

Requests go through Starlette's test client into the real app around the real
`KioskActions` (engine, gate, publisher, service); only the socket is skipped.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from edge.web.app import create_app
from edge.web.security import CSP, SESSION_COOKIE
from edge.web.token import StaffToken
from tests.web_rig import TOKEN, Kiosk

BASE = "http://127.0.0.1:8080"
ORIGIN = {"origin": BASE}
LAN_CLIENT = ("192.168.1.20", 50000)
STAFF = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    rig = Kiosk(tmp_path, actions={"per_minute": 60, "burst": 4})
    yield rig
    rig.close()


def client(
    kiosk: Kiosk, address: tuple[str, int] = ("127.0.0.1", 50000), base: str = BASE
) -> TestClient:
    return TestClient(kiosk.app(), base_url=base, client=address, follow_redirects=False)


def test_every_response_carries_the_strict_security_headers(kiosk: Kiosk) -> None:
    """No inline script, no framing, no sniffing, no referrer leaks, on pages, files and APIs."""
    web = client(kiosk)
    for path in ("/kiosk", "/pair", "/static/kiosk.js", "/healthz", "/api/staff/ack"):
        headers = web.get(path).headers
        assert headers["content-security-policy"] == CSP, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP


def test_pages_have_no_inline_script_or_style(kiosk: Kiosk) -> None:
    """The CSP forbids inline code; a page relying on it would silently break."""
    web = client(kiosk, base=BASE)
    for path in ("/kiosk", "/pair"):
        page = web.get(path).text
        assert "style=" not in page and "onclick" not in page.lower()
        scripts = page.count("<script")
        assert scripts == page.count('<script src="/static/') + page.count(
            '<script type="application/json"'
        )
    staff = web.get("/staff", headers=STAFF).text
    assert "style=" not in staff and "http://" not in staff and "https://" not in staff


def test_healthz_reports_status_and_consent_to_monitors(kiosk: Kiosk) -> None:
    """Monitors need a cheap, unauthenticated liveness check that says nothing about people."""
    kiosk.actions.consent("grant", "kiosk")
    answer = client(kiosk, LAN_CLIENT).get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "consent": "granted"}


def test_staff_actions_and_streams_need_the_token_even_on_loopback(kiosk: Kiosk) -> None:
    """A customer at the kiosk browser is on loopback too; alerts are for paired staff only."""
    web = client(kiosk)
    assert web.get("/api/staff/events").status_code == 401
    assert (
        web.post("/api/staff/presence", json={"present": True}, headers=ORIGIN).status_code == 401
    )
    assert web.get("/staff").headers["location"] == "/pair"
    wrong = {"authorization": "Bearer not-the-token-0123456789"}
    assert web.post("/api/staff/presence", json={"present": True}, headers=wrong).status_code == 401
    assert kiosk.actions.state().consent == "none"


def test_the_kiosk_is_open_on_loopback_only(kiosk: Kiosk) -> None:
    """The kiosk screen needs no login on the device, but nobody else may act as the kiosk."""
    assert client(kiosk).get("/kiosk").status_code == 200
    lan = client(kiosk, LAN_CLIENT, base="http://192.168.1.5:8080")
    assert lan.get("/kiosk").status_code == 403
    assert lan.get("/api/kiosk/events").status_code == 401
    refused = lan.post(
        "/api/kiosk/consent",
        json={"action": "grant"},
        headers={"origin": "http://192.168.1.5:8080"},
    )
    assert refused.status_code == 401
    assert kiosk.actions.state().consent == "none"


def test_a_rebinding_host_name_is_not_the_kiosk(kiosk: Kiosk) -> None:
    """A web page whose name resolves to 127.0.0.1 (DNS rebinding) must not pose as the kiosk."""
    evil = client(kiosk, base="http://evil.example:8080")
    answer = evil.post(
        "/api/kiosk/consent",
        json={"action": "grant"},
        headers={"origin": "http://evil.example:8080"},
    )
    assert answer.status_code == 401
    assert evil.get("/kiosk").status_code == 403


@pytest.mark.parametrize("headers", [{}, {"origin": "http://evil.example"}, {"origin": "null"}])
def test_browser_actions_from_another_origin_are_refused(
    kiosk: Kiosk, headers: dict[str, str]
) -> None:
    """CSRF: a page elsewhere must not make the kiosk or a paired tablet act."""
    web = client(kiosk)
    web.cookies.set(SESSION_COOKIE, StaffToken(TOKEN).session())
    assert (
        web.post("/api/kiosk/consent", json={"action": "grant"}, headers=headers).status_code == 403
    )
    assert (
        web.post("/api/staff/presence", json={"present": True}, headers=headers).status_code == 403
    )
    assert kiosk.actions.state().consent == "none"


def test_actions_go_through_the_real_kiosk_actions(kiosk: Kiosk) -> None:
    """Screens and MQTT commands must share one set of rules (grant once, pause, ack)."""
    web = client(kiosk)
    answer = web.post("/api/kiosk/consent", json={"action": "grant"}, headers=ORIGIN)
    assert answer.json() == {"ok": True, "consent": "granted"}
    again = web.post("/api/kiosk/consent", json={"action": "grant"}, headers=ORIGIN)
    assert again.status_code == 409 and "cannot grant" in again.json()["error"]
    paused = web.post("/api/staff/presence", json={"present": True}, headers=STAFF)
    assert paused.json() == {"ok": True, "consent": "paused"}
    assert kiosk.publisher.published["consent"] == 2
    gone = web.post("/api/staff/ack", json={"alert_id": "0" * 26}, headers=STAFF)
    assert gone.status_code == 409 and "no open alert" in gone.json()["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),
        (b'{"action": "maybe"}', 422),
        (b'{"action": "grant", "x": 1}', 422),
        (b"x" * 2000, 413),
    ],
)
def test_malformed_actions_are_refused_and_change_nothing(
    kiosk: Kiosk, body: bytes, status: int
) -> None:
    """Bad input must be answered plainly, never half-applied."""
    answer = client(kiosk).post(
        "/api/kiosk/consent", content=body, headers=ORIGIN | {"content-type": "application/json"}
    )
    assert answer.status_code == status and answer.json()["ok"] is False
    assert kiosk.actions.state().consent == "none"


def test_actions_are_rate_limited_per_client(kiosk: Kiosk) -> None:
    """A stuck button or a script must not flood the engine and the broker."""
    web = client(kiosk)
    codes = [
        web.post("/api/kiosk/consent", json={"action": "withdraw"}, headers=ORIGIN).status_code
        for _ in range(5)
    ]
    assert codes == [409, 409, 409, 409, 429]
    limited = web.post("/api/kiosk/consent", json={"action": "grant"}, headers=ORIGIN)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    other = client(kiosk, ("127.0.0.2", 50000))
    assert (
        other.post("/api/kiosk/consent", json={"action": "grant"}, headers=ORIGIN).status_code
        == 200
    )


def test_pairing_sets_a_strict_http_only_cookie_and_is_rate_limited(kiosk: Kiosk) -> None:
    """The token is typed once; the cookie must not be readable by script or sent cross-site."""
    web = client(kiosk, LAN_CLIENT, base="http://192.168.1.5:8080")
    lan_origin = {"origin": "http://192.168.1.5:8080"}
    paired = web.post("/pair", data={"token": TOKEN}, headers=lan_origin)
    assert paired.status_code == 303 and paired.headers["location"] == "/staff"
    cookie = paired.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert web.get("/staff").status_code == 200
    guesser = client(kiosk, ("192.168.1.99", 50000), base="http://192.168.1.5:8080")
    codes = [
        guesser.post("/pair", data={"token": f"guess-{i:012d}"}, headers=lan_origin).status_code
        for i in range(6)
    ]
    assert codes == [403] * 5 + [429]


def test_without_a_configured_token_nobody_is_staff(kiosk: Kiosk) -> None:
    """A device set up without a token must not fall back to trusting anyone."""
    app = create_app(kiosk.actions, kiosk.hub, kiosk.config, token=None)
    web = TestClient(app, base_url=BASE, client=("127.0.0.1", 50000))
    assert web.post("/api/staff/presence", json={"present": True}, headers=STAFF).status_code == 401
    assert (
        web.post("/pair", data={"token": TOKEN}, headers=ORIGIN, follow_redirects=False).status_code
        == 403
    )
