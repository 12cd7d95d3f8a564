"""The event hub: what the screens know, and the live streams that keep them current.

`EventHub.listener` is registered with `OutputPublisher.add_listener`; the pipeline thread
calls it for every published payload. It updates a small snapshot under a lock (no I/O) and
hands the fan-out to the web server's event loop with `call_soon_threadsafe`. A client that
(re)connects gets the snapshot first, then live events; sequence numbers make sure an event
is neither lost nor sent twice around that moment.

With the store view on, the same goes for the site's other devices: the store link calls
`remote` from its MQTT thread, `StoreView` keeps their picture, and each change goes out as a
`device` event (the whole device, so a missed event never leaves a tablet wrong for long).
"""

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from edge.events.base import Payload
from edge.events.mood_payloads import AlertPayload, InteractionEnd, InteractionStart, MoodPayload
from edge.events.state_payloads import ConsentPayload
from edge.events.topics import Leaf
from edge.web.store import StoreView

logger = logging.getLogger(__name__)

Audience = Literal["kiosk", "staff"]
SseEvent = tuple[str, str]
"""(event name, JSON data)."""

QUEUE_MAX = 256
MOOD_HISTORY = 12
RECENT_SUMMARIES = 5


@dataclass(slots=True)
class _Interaction:
    start: str
    moods: deque[str] = field(default_factory=lambda: deque(maxlen=MOOD_HISTORY))


@dataclass(slots=True)
class Subscription:
    """One open stream: events wait in `queue`; None means the stream ends."""

    audience: Audience
    queue: "asyncio.Queue[SseEvent | None]"
    after_seq: int


class EventHub:
    """Snapshot plus fan-out of published payloads to the open kiosk and staff streams."""

    def __init__(
        self,
        survey_window_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        store: StoreView | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._store = store
        self._clock, self._survey_window_s = clock, survey_window_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscriptions: list[Subscription] = []
        self._seq = 0
        self._consent: tuple[str, str] = ("none", "opt_in")
        """(state, mode): from the last consent payload, or `prime`."""
        self._consent_json: str | None = None
        self._interactions: dict[str, _Interaction] = {}
        self._alerts: dict[str, str] = {}
        self._summaries: deque[str] = deque(maxlen=RECENT_SUMMARIES)
        self._ended: tuple[str, float] | None = None
        self._answered: str | None = None

    # --- pipeline side (any thread, never blocks) ----------------------------------------

    def listener(self, leaf: Leaf, payload: Payload) -> None:
        """`OutputPublisher` listener: remember, then fan out on the event loop."""
        data = payload.to_json().decode("utf-8")
        with self._lock:
            self._remember(payload, data)
            self._seq += 1
            seq, loop = self._seq, self._loop
            kiosk = (
                self._kiosk_view() if isinstance(payload, ConsentPayload | InteractionEnd) else None
            )
        self._send(loop, seq, (leaf.value, data), kiosk)

    def _send(
        self, loop: asyncio.AbstractEventLoop | None, seq: int, event: SseEvent, kiosk: str | None
    ) -> None:
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._fan_out, seq, event, kiosk)
        except RuntimeError:  # the loop closed meanwhile (server stopping): snapshot is enough
            logger.debug("Web event loop closed; event kept in the snapshot only")

    def _remember(self, payload: Payload, data: str) -> None:
        if isinstance(payload, ConsentPayload):
            self._consent, self._consent_json = (payload.state, payload.mode), data
            if payload.state == "paused":
                self._ended = None
        elif isinstance(payload, InteractionStart):
            self._interactions[payload.interaction_id] = _Interaction(data)
        elif isinstance(payload, MoodPayload) and payload.interaction_id in self._interactions:
            self._interactions[payload.interaction_id].moods.append(data)
        elif isinstance(payload, InteractionEnd):
            self._interactions.pop(payload.interaction_id, None)
            self._summaries.append(data)
            # A visit ended by a staff pause gets no survey: staff are with the customer.
            paused = self._consent[0] == "paused"
            self._ended = None if paused else (payload.interaction_id, self._clock())
        elif isinstance(payload, AlertPayload):
            if payload.phase == "end":
                self._alerts.pop(payload.alert_id, None)
            else:
                self._alerts[payload.alert_id] = data

    # --- store link side (its MQTT thread, never blocks) ------------------------------------

    def remote(self, topic: str, payload: bytes) -> None:
        """A message of a device of the site: update the store view, send what changed."""
        if self._store is not None:
            self._relay(self._store, lambda store, now: store.apply(topic, payload, now))

    def remote_link_down(self) -> None:
        """The store link lost the broker: every other device's state is unknown for now."""
        if self._store is not None:
            self._relay(self._store, lambda store, _now: store.link_down())

    def remote_ack_refused(self, device_id: str, alert_id: str, code: str) -> None:
        """Tell the tablets that `device_id` refused an acknowledgement sent from here."""
        data = json.dumps({"device": device_id, "alert_id": alert_id, "error": code})
        with self._lock:
            self._seq += 1
            seq, loop = self._seq, self._loop
        self._send(loop, seq, ("remote_ack", data), None)

    def _relay(self, store: StoreView, change: Callable[[StoreView, float], list[str]]) -> None:
        """Apply `change` (it returns the devices it changed) and send their new views."""
        sends = []
        with self._lock:
            now = self._clock()
            for device_id in change(store, now):
                self._seq += 1
                sends.append((self._seq, ("device", store.view(device_id, now))))
            loop = self._loop
        for seq, event in sends:
            self._send(loop, seq, event, None)

    def remote_alert_open(self, device_id: str, alert_id: str) -> bool:
        """`alert_id` is an open, unacknowledged alert of that other device."""
        with self._lock:
            return self._store is not None and self._store.alert_open(device_id, alert_id)

    def store_counters(self) -> dict[str, object] | None:
        """Devices followed and messages ignored by reason; None without the store view."""
        with self._lock:
            if self._store is None:
                return None
            return {"devices": len(self._store.devices()), "ignored": dict(self._store.ignored)}

    # --- event loop side -----------------------------------------------------------------

    def prime(self, state: str, mode: str) -> None:
        """The consent state published before the hub listened (`KioskActions.state()`)."""
        with self._lock:
            if self._consent_json is None:
                self._consent = (state, mode)
                self._consent_json = json.dumps({"state": state, "mode": mode})

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Attach the web server's loop (None when it stops)."""
        with self._lock:
            self._loop = loop

    def subscribe(self, audience: Audience) -> tuple[Subscription, list[SseEvent]]:
        """Open a stream: the snapshot to send first, and the subscription for what follows."""
        with self._lock:
            sub = Subscription(audience, asyncio.Queue(QUEUE_MAX), self._seq)
            self._subscriptions.append(sub)
            return sub, self._snapshot(audience)

    def unsubscribe(self, sub: Subscription) -> None:
        """The stream closed."""
        with self._lock:
            if sub in self._subscriptions:
                self._subscriptions.remove(sub)

    def close_streams(self) -> None:
        """End every open stream (the server is stopping); call on the event loop."""
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for sub in subscriptions:
            _offer(sub, None)

    def end_streams(self) -> None:
        """End every open stream from any thread (the server is about to stop)."""
        with self._lock:
            loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.close_streams)

    def _fan_out(self, seq: int, event: SseEvent, kiosk: str | None) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for sub in subscriptions:
            if seq <= sub.after_seq:
                continue
            if sub.audience == "staff":
                delivered = _offer(sub, event)
            else:
                delivered = kiosk is None or _offer(sub, ("kiosk", kiosk))
            if not delivered:
                # A client this far behind reconnects and starts again from a snapshot.
                logger.warning("Dropping a %s stream that stopped reading", sub.audience)
                self.unsubscribe(sub)
                _offer(sub, None, force=True)

    # --- views (under the lock) ----------------------------------------------------------

    def _snapshot(self, audience: Audience) -> list[SseEvent]:
        if audience == "kiosk":
            return [("kiosk", self._kiosk_view())]
        events: list[SseEvent] = [("reset", "{}")]
        if self._store is not None:
            now = self._clock()
            self._store.prune(now)
            events.append(("store", self._store.intro()))
            events += [("device", self._store.view(d, now)) for d in self._store.devices()]
        if self._consent_json is not None:
            events.append((Leaf.CONSENT.value, self._consent_json))
        events += [(Leaf.INTERACTION.value, summary) for summary in self._summaries]
        for interaction in self._interactions.values():
            events.append((Leaf.INTERACTION.value, interaction.start))
            events += [(Leaf.MOOD.value, mood) for mood in interaction.moods]
        events += [(Leaf.ALERT.value, alert) for alert in self._alerts.values()]
        return events

    def _kiosk_view(self) -> str:
        state, mode = self._consent
        return json.dumps({"consent": state, "mode": mode, "survey_s": self._survey_remaining_s()})

    def _survey_remaining_s(self) -> float:
        if self._ended is None or self._ended[0] == self._answered:
            return 0.0
        if self._consent[0] != "none":
            return 0.0  # the next customer is already here
        return max(0.0, round(self._survey_window_s - (self._clock() - self._ended[1]), 1))

    # --- queries ---------------------------------------------------------------------------

    def open_streams(self) -> int:
        """How many streams are open (for tests and health)."""
        with self._lock:
            return len(self._subscriptions)

    def consent_state(self) -> str:
        """The last published consent state (`none` before the first)."""
        with self._lock:
            return self._consent[0]

    def claim_survey(self) -> str | None:
        """The interaction a survey answer belongs to, once, while its window is open."""
        with self._lock:
            if self._ended is None or self._survey_remaining_s() <= 0:
                return None
            self._answered = self._ended[0]
            return self._ended[0]


def _offer(sub: Subscription, event: SseEvent | None, force: bool = False) -> bool:
    try:
        sub.queue.put_nowait(event)
    except asyncio.QueueFull:
        if not force:
            return False
        sub.queue.get_nowait()
        sub.queue.put_nowait(event)
    return True
