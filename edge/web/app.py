"""The web app factory: kiosk screen, staff tablet, pairing, health, static files.

`create_app(actions, hub, config)` returns a Starlette ASGI app; `edge.web.server.WebServer`
serves it with uvicorn. Pages are rendered from `templates/` with the language's catalogue;
scripts and styles are separate files under `static/` (no inline code: the CSP forbids it).
"""

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.resources import files
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from edge.config.web import WebConfig
from edge.pipeline.actions import KioskActions
from edge.web.api import api_routes, kiosk_or_staff, read_limited, staff_only
from edge.web.context import WebContext
from edge.web.hub import EventHub
from edge.web.i18n import json_block, pick_language
from edge.web.security import SESSION_COOKIE, SecurityHeaders, is_local, same_origin
from edge.web.store_link import StoreLink
from edge.web.survey import SurveySink
from edge.web.token import StaffToken

logger = logging.getLogger(__name__)

SESSION_MAX_AGE_S = 30 * 24 * 3600


_LIVE_SCRIPTS = (
    '<script src="/static/common.js" defer></script>\n'
    '<script src="/static/{page}.js" defer></script>\n'
)
"""What the live pages load (only same-origin files: the CSP allows no inline script)."""


def _page(
    ctx: WebContext, request: Request, page: str, status: int = 200, **values: str
) -> Response:
    lang = pick_language(request.query_params.get("lang"), ctx.config.languages)
    messages = ctx.catalogues[lang]
    links = " ".join(
        f'<a href="?lang={code}" lang="{code}"'
        + (' aria-current="true"' if code == lang else "")
        + f">{html.escape(code.upper())}</a>"
        for code in ctx.config.languages
    )
    common = {
        "lang": lang,
        "lang_links": links,
        "page": page,
        "messages_json": json_block(messages),
    }
    common["page_title"] = html.escape(messages[f"{page}.title"])
    live = page in ("kiosk", "staff")
    scripts = {"scripts": _LIVE_SCRIPTS.format(page=page) if live else ""}
    common["head"] = ctx.templates.render("_head", messages, common | scripts)
    if live:  # live pages share top and bottom: banner, scripts, texts
        values["top"] = ctx.templates.render("_top", messages, common)
        values["bottom"] = ctx.templates.render("_bottom", messages, common)
    body = ctx.templates.render(page, messages, common | values)
    return HTMLResponse(body, status_code=status)


def _pages(ctx: WebContext) -> list[Route]:
    async def home(request: Request) -> Response:
        return RedirectResponse("/kiosk" if is_local(request) else "/staff", status_code=303)

    async def kiosk(request: Request) -> Response:
        if not kiosk_or_staff(request, ctx):
            return _page(ctx, request, "refused", status=403)
        return _page(ctx, request, "kiosk")

    async def staff(request: Request) -> Response:
        if not staff_only(request, ctx):
            return RedirectResponse("/pair", status_code=303)
        return _page(ctx, request, "staff")

    async def pair_form(request: Request) -> Response:
        return _page(ctx, request, "pair", error="")

    async def healthz(_request: Request) -> Response:
        health: dict[str, object] = {"status": "ok", "consent": ctx.hub.consent_state()}
        store = ctx.hub.store_counters()
        if store is not None:  # devices followed, messages ignored: no person in either
            health["store"] = store
        return JSONResponse(health)

    return [
        Route("/", home),
        Route("/kiosk", kiosk),
        Route("/staff", staff),
        Route("/pair", pair_form),
        Route("/pair", _pair(ctx), methods=["POST"]),
        Route("/healthz", healthz),
    ]


def _pair(ctx: WebContext) -> Callable[[Request], Awaitable[Response]]:
    async def pair(request: Request) -> Response:
        """Exchange the device token for a `SameSite=Strict`, HttpOnly session cookie."""
        wrong = ctx.catalogues[ctx.config.languages[0]]["pair.wrong"]
        if not same_origin(request):
            logger.warning("Refused a cross-origin pairing attempt")
            return _page(ctx, request, "pair", status=403, error=html.escape(wrong))
        if ctx.pairing_limit.allow(request.client.host if request.client else "?") > 0:
            return _page(ctx, request, "pair", status=429, error=html.escape(wrong))
        fields = parse_qs(((await read_limited(request)) or b"").decode("utf-8", "replace"))
        if not ctx.token.check_token(fields.get("token", [""])[0].strip()):
            logger.warning("Refused a pairing attempt with a wrong token")
            return _page(ctx, request, "pair", status=403, error=html.escape(wrong))
        response = RedirectResponse("/staff", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            ctx.token.session(),
            max_age=SESSION_MAX_AGE_S,
            httponly=True,
            samesite="strict",
            secure=ctx.config.tls_cert_file is not None,
        )
        logger.info("A staff device paired")
        return response

    return pair


def create_app(
    actions: KioskActions,
    events: EventHub,
    config: WebConfig,
    token: str | None = None,
    survey: SurveySink | None = None,
    store: StoreLink | None = None,
) -> Starlette:
    """The ASGI app. `token` is the staff token (`load_web_token`); None: no staff access.

    `store` is the store view's link (the hub then holds the matching `StoreView`).
    """
    ctx = WebContext(actions, events, config, StaffToken(token), store=store)
    if survey is not None:
        ctx.survey = survey

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        events.bind(asyncio.get_running_loop())
        try:
            yield
        finally:
            events.bind(None)

    static = StaticFiles(directory=str(files("edge.web") / "static"))
    return Starlette(
        routes=[*_pages(ctx), *api_routes(ctx), Mount("/static", static, name="static")],
        middleware=[Middleware(SecurityHeaders, tls=config.tls_cert_file is not None)],
        lifespan=lifespan,
    )
