"""Actions (JSON POSTs) and live streams (SSE) for the kiosk screen and the staff tablet.

Every action goes through `KioskActions` (or the survey sink), exactly like MQTT commands;
checks run in a fixed order: access, same origin (CSRF), rate limit, body.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from edge.commands.dispatcher import CommandFailed
from edge.config.ids import TopicId
from edge.pipeline.actions import AckArgs, ConsentArgs, StaffArgs
from edge.web.context import WebContext
from edge.web.hub import Audience, SseEvent
from edge.web.security import is_local, is_staff, same_origin
from edge.web.survey import SurveyArgs

logger = logging.getLogger(__name__)

ArgsT = TypeVar("ArgsT", bound=BaseModel)
Run = Callable[[Request, ArgsT], dict[str, Any]]
Allowed = Callable[[Request, WebContext], bool]

MAX_BODY_BYTES = 1024
HEARTBEAT_S = 15.0
RETRY_MS = 2000


class RemoteAckArgs(BaseModel):
    """The store view: acknowledge an alert of another device of the site."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    device: TopicId
    alert_id: str = Field(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")


def staff_only(request: Request, ctx: WebContext) -> bool:
    """Staff pages and actions: the device token, from anywhere (loopback included)."""
    return is_staff(request, ctx.token)


def kiosk_or_staff(request: Request, ctx: WebContext) -> bool:
    """The kiosk screen: the device's own browser, or staff."""
    return is_local(request) or is_staff(request, ctx.token)


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status, headers=headers)


async def _admit(request: Request, ctx: WebContext, allowed: Allowed) -> JSONResponse | None:
    """The refusal for a request that may not act, or None."""
    if not allowed(request, ctx):
        return _error(401, "staff token required", **{"www-authenticate": "Bearer"})
    if not same_origin(request):
        return _error(403, "cross-origin request refused")
    wait_s = ctx.action_limit.allow(request.client.host if request.client else "?")
    if wait_s > 0:
        return _error(
            429, "too many actions; try again shortly", **{"retry-after": f"{wait_s:.0f}"}
        )
    return None


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or None when it exceeds `limit` (read no further than that)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


async def _parse(request: Request, model: type[ArgsT]) -> ArgsT | JSONResponse:
    body = await read_limited(request)
    if body is None:
        return _error(413, "request too large")
    try:
        return model.model_validate(json.loads(body or b"null"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "body is not JSON")
    except ValidationError as exc:
        return _error(422, "; ".join(str(e["msg"]) for e in exc.errors()))


def action(
    ctx: WebContext, allowed: Allowed, model: type[ArgsT], run: Run[ArgsT]
) -> Callable[[Request], Any]:
    """An endpoint: checks, then `run` off the event loop (it takes the engine's lock)."""

    async def endpoint(request: Request) -> Response:
        refusal = await _admit(request, ctx, allowed)
        if refusal is not None:
            return refusal
        args = await _parse(request, model)
        if isinstance(args, JSONResponse):
            return args
        try:
            result = await run_in_threadpool(run, request, args)
        except CommandFailed as exc:
            return _error(409, str(exc))
        return JSONResponse({"ok": True, **result})

    return endpoint


def _sse(event: SseEvent) -> str:
    name, data = event
    return f"event: {name}\ndata: {data}\n\n"


async def _stream(ctx: WebContext, audience: Audience) -> AsyncIterator[str]:
    sub, snapshot = ctx.hub.subscribe(audience)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        for event in snapshot:
            yield _sse(event)
        while True:
            try:
                item = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if item is None:
                return
            yield _sse(item)
    finally:
        ctx.hub.unsubscribe(sub)


def stream(ctx: WebContext, allowed: Allowed, audience: Audience) -> Callable[[Request], Any]:
    """A `text/event-stream` endpoint: the snapshot, then live events."""

    async def endpoint(request: Request) -> Response:
        if not allowed(request, ctx):
            return _error(401, "staff token required", **{"www-authenticate": "Bearer"})
        return StreamingResponse(
            _stream(ctx, audience),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    return endpoint


def api_routes(ctx: WebContext) -> list[Route]:
    """The action and stream routes."""
    actions = ctx.actions

    def consent(request: Request, args: ConsentArgs) -> dict[str, Any]:
        return actions.consent(args.action, "kiosk" if is_local(request) else "staff")

    def survey(_request: Request, args: SurveyArgs) -> dict[str, Any]:
        interaction_id = ctx.hub.claim_survey()
        if interaction_id is None:
            raise CommandFailed("no survey open")
        ctx.survey.record(interaction_id, args.answer)
        return {"recorded": args.answer}

    def ack(_request: Request, args: AckArgs) -> dict[str, Any]:
        return actions.acknowledge(args.alert_id, "tablet")

    def presence(_request: Request, args: StaffArgs) -> dict[str, Any]:
        return actions.staff(args.present, "staff")

    def remote_ack(_request: Request, args: RemoteAckArgs) -> dict[str, Any]:
        if ctx.store is None:
            raise CommandFailed("the store view is off")
        if not ctx.hub.remote_alert_open(args.device, args.alert_id):
            raise CommandFailed(f"no open alert {args.alert_id} on {args.device}")
        # Through that device's signed command topic: only it can acknowledge its alerts.
        return ctx.store.acknowledge(args.device, args.alert_id)

    post = ["POST"]
    return [
        Route("/api/kiosk/events", stream(ctx, kiosk_or_staff, "kiosk")),
        Route("/api/staff/events", stream(ctx, staff_only, "staff")),
        Route(
            "/api/kiosk/consent", action(ctx, kiosk_or_staff, ConsentArgs, consent), methods=post
        ),
        Route("/api/kiosk/survey", action(ctx, kiosk_or_staff, SurveyArgs, survey), methods=post),
        Route("/api/staff/ack", action(ctx, staff_only, AckArgs, ack), methods=post),
        Route("/api/staff/presence", action(ctx, staff_only, StaffArgs, presence), methods=post),
        Route(
            "/api/staff/remote-ack",
            action(ctx, staff_only, RemoteAckArgs, remote_ack),
            methods=post,
        ),
    ]
