"""The web package's parts on their own: config, token, catalogues, the event hub."""

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.config import load_secrets
from edge.config.loader import ConfigError
from edge.config.web import WebConfig
from edge.events.topics import Leaf
from edge.web.hub import QUEUE_MAX
from edge.web.i18n import Templates, json_block, load_catalogues
from edge.web.server import WebServerError
from edge.web.service import start_web
from edge.web.token import StaffToken, load_web_token
from tests.broker import Mosquitto
from tests.collector import wait_until
from tests.conftest import make_config
from tests.web_rig import TOKEN, Kiosk


def test_the_config_refuses_an_inline_token_and_half_a_tls_pair() -> None:
    """Secrets never live in YAML; a certificate without its key would fail only at start."""
    with pytest.raises(ValidationError, match="secret"):
        WebConfig.model_validate({"token": TOKEN})
    with pytest.raises(ValidationError, match="go together"):
        WebConfig(tls_cert_file=Path("cert.pem"))
    with pytest.raises(ValidationError, match="language"):
        WebConfig(languages=["en", "../etc"])
    assert WebConfig().host == "127.0.0.1"  # loopback unless the LAN is chosen explicitly


def test_the_token_comes_from_its_file_or_the_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd `LoadCredential=web_token` must work without naming a file in the config."""
    assert load_web_token(WebConfig()) is None
    (tmp_path / "web_token").write_text(TOKEN + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert load_web_token(WebConfig()) == TOKEN
    short = tmp_path / "short"
    short.write_text("1234")
    with pytest.raises(ConfigError, match="at least 16"):
        load_web_token(WebConfig(token_file=short))


def test_the_session_cookie_is_not_the_token() -> None:
    """A cookie read off a tablet must not reveal the token that pairs new ones."""
    token = StaffToken(TOKEN)
    assert token.check_session(token.session()) and not token.check_session(TOKEN)
    assert token.check_token(TOKEN) and not token.check_token(token.session())


def test_every_language_has_every_text_the_pages_use() -> None:
    """A missing translation would show a raw key to a customer."""
    shipped = load_catalogues(["en", "nl"], None)
    templates = Templates()
    values = {"lang", "lang_links", "messages_json", "error", "top", "page", "page_title", "bottom"}
    values |= {"head", "scripts"}
    for page in ("_head", "_top", "kiosk", "staff", "pair", "refused"):
        needed = templates.placeholders(page) - values
        for lang, messages in shipped.items():
            assert needed <= messages.keys(), (page, lang)
    english = json.loads((Path("edge/web/i18n/en.json")).read_text())
    dutch = json.loads((Path("edge/web/i18n/nl.json")).read_text())
    assert english.keys() == dutch.keys()


def test_operators_can_override_texts_per_language(tmp_path: Path) -> None:
    """Sites word their notice themselves (legal review); only the changed keys are needed."""
    (tmp_path / "nl.json").write_text(json.dumps({"kiosk.yes": "Ja graag"}))
    catalogues = load_catalogues(["nl", "en"], tmp_path)
    assert catalogues["nl"]["kiosk.yes"] == "Ja graag"
    assert catalogues["nl"]["kiosk.no"] == "Nee, dank u"
    with pytest.raises(ConfigError, match="no message catalogue"):
        load_catalogues(["fr"], None)


def test_texts_cannot_break_out_of_the_page() -> None:
    """Texts are data: an override with markup must not become script."""
    block = json_block({"x": "</script><script>alert(1)</script>"})
    assert "</script>" not in block and json.loads(block)["x"].startswith("</script>")
    page = Templates().render(
        "pair",
        {"pair.title": "<b>", "pair.help": "", "pair.label": "", "pair.submit": ""},
        {"lang": "en", "error": "", "head": ""},
    )
    assert "<b>" not in page and "&lt;b&gt;" in page


def test_a_stream_gets_the_snapshot_then_each_later_event_exactly_once(tmp_path: Path) -> None:
    """A tablet connecting mid-visit must neither miss nor double an event."""
    kiosk = Kiosk(tmp_path)
    try:
        hub = kiosk.hub

        async def scenario() -> list[str]:
            hub.bind(asyncio.get_running_loop())
            kiosk.actions.consent("grant", "kiosk")
            kiosk.feed("neutral", 4)  # interaction started, moods published
            sub, snapshot = hub.subscribe("staff")
            kiosk.feed("neutral", 2)
            await asyncio.sleep(0)  # let call_soon_threadsafe callbacks run
            later = []
            while not sub.queue.empty():
                item = sub.queue.get_nowait()
                assert item is not None
                later.append(item[0])
            names = [name for name, _data in snapshot]
            assert names[:2] == ["reset", "consent"] and "interaction" in names and "mood" in names
            return later

        later = asyncio.run(scenario())
        assert later and set(later) == {Leaf.MOOD.value}
        assert len(later) == kiosk.publisher.published["mood"] - 2
    finally:
        kiosk.close()


def test_a_client_that_stops_reading_is_dropped_not_waited_for(tmp_path: Path) -> None:
    """One frozen tablet must never hold up the pipeline or the other screens."""
    kiosk = Kiosk(tmp_path)
    try:
        hub = kiosk.hub

        async def scenario() -> tuple[bool, int]:
            hub.bind(asyncio.get_running_loop())
            sub, _snapshot = hub.subscribe("staff")
            kiosk.actions.consent("grant", "kiosk")
            for _ in range(QUEUE_MAX + 10):
                kiosk.feed("neutral", 2)
            await asyncio.sleep(0)
            items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
            return items[-1] is None, hub.open_streams()

        ended, open_streams = asyncio.run(scenario())
        assert ended and open_streams == 0
    finally:
        kiosk.close()


def test_start_web_serves_the_pipeline_and_a_taken_port_fails_loudly(tmp_path: Path) -> None:
    """The live service gets one call; a port clash must stop it with a reason, not hang."""
    kiosk = Kiosk(tmp_path)
    token_file = tmp_path / "web.token"
    token_file.write_text(TOKEN)
    try:
        kiosk.actions.staff(True, "staff")  # published before the pages listen
        assert start_web(WebConfig(), kiosk.actions, kiosk.publisher) is None  # disabled
        config = WebConfig(enabled=True, port=0, token_file=token_file)
        server = start_web(config, kiosk.actions, kiosk.publisher)
        assert server is not None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz") as answer:
                assert json.loads(answer.read()) == {"status": "ok", "consent": "paused"}
            clash = WebConfig(enabled=True, port=server.port, token_file=token_file)
            with pytest.raises(WebServerError, match="did not start"):
                start_web(clash, kiosk.actions, kiosk.publisher)
        finally:
            server.stop()
    finally:
        kiosk.close()


def test_the_survey_is_offered_once_and_not_after_staff_took_over(tmp_path: Path) -> None:
    """A self-report must rate the visit that just ended, never a later or a staff-ended one."""
    kiosk = Kiosk(tmp_path)
    try:
        kiosk.actions.consent("grant", "kiosk")
        kiosk.feed("happy", 8)
        ended = kiosk.actions.state().interaction_id
        kiosk.feed(None, 12)  # left
        assert kiosk.hub.claim_survey() == ended
        assert kiosk.hub.claim_survey() is None  # one answer per visit
        kiosk.actions.consent("grant", "kiosk")
        kiosk.feed("happy", 8)
        kiosk.actions.staff(True, "staff")  # ends the visit: staff are with the customer
        kiosk.actions.staff(False, "staff")
        assert kiosk.hub.claim_survey() is None
    finally:
        kiosk.close()


def test_start_web_follows_the_site_when_the_store_view_is_on(
    broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The live service's one call must wire the store view, and say why when it cannot."""
    kiosk = Kiosk(tmp_path / "kiosk-3")
    sibling = Kiosk(tmp_path / "kiosk-4", broker, device_id="kiosk-4")
    config = WebConfig(enabled=True, port=0, store_view=True)
    device = make_config(tmp_path, broker.port)
    try:
        lone = start_web(config, kiosk.actions, kiosk.publisher)  # no broker settings given
        assert lone is not None
        lone.stop()
        assert "no broker is configured" in caplog.text
        server = start_web(
            config, kiosk.actions, kiosk.publisher, device=(device, load_secrets(device))
        )
        assert server is not None
        try:
            url = f"http://127.0.0.1:{server.port}/healthz"

            def store() -> object:
                with urllib.request.urlopen(url) as answer:
                    return json.loads(answer.read()).get("store")

            wait_until(
                lambda: store() == {"devices": 1, "ignored": {}}
            )  # kiosk-4's retained status
        finally:
            server.stop()
    finally:
        sibling.close()
        kiosk.close()
