"""Who may do what, from where: loopback and token checks, Origin checks, rate limits, headers.

- The kiosk page and its actions are open to loopback clients only (the kiosk browser runs on
  the device); the Host header must be a loopback name too, so a DNS-rebinding page cannot
  pose as the kiosk.
- Staff pages and actions need the device token, everywhere (a customer at the kiosk browser
  is on loopback too): `Authorization: Bearer <token>` or the session cookie set by pairing.
- State-changing requests from a browser must carry an Origin (or Sec-Fetch-Site) of this
  very origin; the session cookie is `SameSite=Strict` as well. Bearer requests are not
  sent by browsers on their own, so they need no Origin.
"""

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.config.web import RateLimit
from edge.web.token import StaffToken

SESSION_COOKIE = "moodsense_staff"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; media-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    # "no-referrer" would make Chromium send `Origin: null` on form posts, failing the
    # same-origin check; "same-origin" still sends nothing to any other site.
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    # The pages never use the browser's camera or microphone: the service captures itself.
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


class SecurityHeaders:
    """ASGI middleware: strict headers on every HTTP response, streams included."""

    def __init__(self, app: ASGIApp, tls: bool) -> None:
        self._app, self._tls = app, tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start message."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if self._tls:
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        await self._app(scope, receive, send_with_headers)


def is_local(request: Request) -> bool:
    """The client is on this device and addressed it by a loopback name."""
    client = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False
    return loopback and (urlsplit(f"//{request.headers.get('host', '')}").hostname or "") in (
        LOOPBACK_NAMES
    )


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def is_staff(request: Request, token: StaffToken) -> bool:
    """A valid bearer token or session cookie."""
    presented = bearer(request)
    if presented is not None:
        return token.check_token(presented)
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie is not None and token.check_session(cookie)


def same_origin(request: Request) -> bool:
    """A browser request from a page of this very server (the CSRF check)."""
    if bearer(request) is not None:
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site") == "same-origin"
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_s: float


class RateLimiter:
    """A token bucket per client address; a bounded table (oldest clients forgotten)."""

    MAX_CLIENTS = 1024

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate_per_s = limit.per_minute / 60.0
        self._burst, self._clock = float(limit.burst), clock
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, client: str) -> float:
        """0 when allowed (a token is taken), else seconds until the next token."""
        now = self._clock()
        bucket = self._buckets.pop(client, None) or _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at_s) * self._rate_per_s)
        bucket.at_s = now
        self._buckets[client] = bucket  # re-inserted: the dict keeps recency order
        if len(self._buckets) > self.MAX_CLIENTS:
            del self._buckets[next(iter(self._buckets))]
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate_per_s
