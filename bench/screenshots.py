"""Screenshots of the kiosk screen and the staff tablet, for docs/web.md.

Usage: python bench/screenshots.py [--out docs/screenshots] [--only kiosk|staff|store]

Builds the test rig (real engine, actions, publisher and service; scripted faces), plays one
finished visit and one frustrated visit with an open alert, and photographs the pages in
headless Chromium at tablet (1280x800) and phone (390x844) size. The store view shot runs
four kiosks of one store against a real Mosquitto (needs `mosquitto` installed).
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Browser, Page, expect, sync_playwright

from edge.web.security import SESSION_COOKIE
from edge.web.token import StaffToken
from tests.broker import Mosquitto
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS
from tests.web_rig import TOKEN, Kiosk

SIZES = {"tablet": (1280, 800), "phone": (390, 844)}


def _page(browser: Browser, base: str, path: str, size: str) -> Page:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_cookies(
        [{"name": SESSION_COOKIE, "value": StaffToken(TOKEN).session(), "url": base}]
    )
    page = context.new_page()
    page.goto(f"{base}{path}")
    return page


def _shoot(page: Page, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(path)


def _kiosk_shots(browser: Browser, kiosk: Kiosk, base: str, out: Path) -> None:
    for size in SIZES:
        page = _page(browser, base, "/kiosk", size)
        expect(page.locator("#notice")).to_be_visible()
        _shoot(page, out, f"kiosk-notice-{size}")
        page.context.close()
    kiosk.actions.consent("grant", "kiosk")
    page = _page(browser, base, "/kiosk?lang=nl", "tablet")
    expect(page.locator("#sensing")).to_be_visible()
    _shoot(page, out, "kiosk-sensing-nl-tablet")
    kiosk.feed("happy", 8)
    kiosk.feed(None, 12)
    expect(page.locator("#survey")).to_be_visible()
    page.goto(f"{base}/kiosk")
    expect(page.locator("#survey")).to_be_visible()
    _shoot(page, out, "kiosk-survey-tablet")
    page.context.close()
    kiosk.actions.staff(True, "staff")
    page = _page(browser, base, "/kiosk?lang=nl", "phone")
    expect(page.locator("#paused")).to_be_visible()
    _shoot(page, out, "kiosk-paused-nl-phone")
    page.context.close()
    kiosk.actions.staff(False, "staff")


def _staff_shots(browser: Browser, kiosk: Kiosk, base: str, out: Path) -> None:
    kiosk.actions.consent("grant", "kiosk")
    kiosk.feed("neutral", 10)
    kiosk.feed("angry", 40)
    kiosk.feed("happy", 30)
    kiosk.feed(None, 12)  # a finished visit for "recent"
    kiosk.actions.consent("grant", "kiosk")
    kiosk.feed("neutral", 8)
    kiosk.feed("angry", 26)  # a frustrated customer now, alert open
    for size in SIZES:
        page = _page(browser, base, "/staff", size)
        expect(page.locator("#alerts li")).to_have_count(1)
        _shoot(page, out, f"staff-{size}")
        page.context.close()
    page = _page(browser, base, "/staff", "phone")
    expect(page.locator("#alerts li")).to_have_count(1)
    kiosk.stop_server()
    expect(page.locator("#offline")).to_be_visible()
    _shoot(page, out, "staff-offline-phone")
    page.context.close()


def _store_shots(browser: Browser, tmp: Path, out: Path) -> None:
    """kiosk-3's tablet with the store view: kiosk-4 frustrated (alert), kiosk-5 calm, kiosk-6
    switched off."""
    broker = Mosquitto(tmp / "broker")
    broker.start()
    key_file = tmp / "site_command_key"
    key_file.write_bytes(b"site-command-key-0123456789abcdef")
    key = key_file.read_bytes()
    tablet = Kiosk(tmp / "kiosk-3", broker, store_view=True, site_command_key_file=key_file)
    others = [
        Kiosk(tmp / name, broker, device_id=name, command_key=key)
        for name in ("kiosk-4", "kiosk-5", "kiosk-6")
    ]
    try:
        others[2].close()  # switched off: its retained status says offline
        base = tablet.serve()
        tablet.actions.consent("grant", "kiosk")
        tablet.feed("neutral", 12)
        others[0].actions.consent("grant", "kiosk")
        others[0].feed("neutral", 8)
        others[0].feed("angry", 30)
        others[1].actions.consent("grant", "kiosk")
        others[1].feed("happy", 24)
        page = _page(browser, base, "/staff", "tablet")
        expect(page.locator("#devices li.device")).to_have_count(3)
        expect(page.locator("#alerts li.remote")).to_have_count(1)
        expect(page.locator("#devices")).to_contain_text("Positive")
        _shoot(page, out, "staff-store-tablet")
        page.context.close()
    finally:
        for kiosk in (*others[:2], tablet):
            kiosk.close()
        broker.stop()


def main() -> None:
    """Write the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--only", choices=["kiosk", "staff", "store"], default=None)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            if args.only in (None, "kiosk", "staff"):
                kiosk = Kiosk(Path(tmp) / "single")
                try:
                    base = kiosk.serve()
                    if args.only in (None, "kiosk"):
                        _kiosk_shots(browser, kiosk, base, args.out)
                    if args.only in (None, "staff"):
                        _staff_shots(browser, kiosk, base, args.out)
                finally:
                    kiosk.close()
            if args.only in (None, "store"):
                _store_shots(browser, Path(tmp), args.out)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
