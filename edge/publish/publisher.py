"""The durable publisher: accept events without blocking, commit them to the outbox, send
them in order with QoS 1, and forget them only once the broker has acknowledged them.

Threads: callers only enqueue (`submit`); one worker thread owns the outbox and hands events
to paho; paho's network thread reports acknowledgements back through the same queue.
"""

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from edge.publish.mqtt_link import MqttLink
from edge.publish.outbox import Outbox, StoredEvent

logger = logging.getLogger(__name__)

_IDLE_WAKE_S = 0.5
_PENDING_MAX = 10_000
_ACK_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class _Signal:
    kind: Literal["link_up", "link_down", "acks", "stop"]


# A submitted event is a plain (topic, payload) tuple: the cheapest thing to queue.
_Item = tuple[str, bytes] | _Signal


@dataclass(frozen=True, slots=True)
class PublisherStats:
    """Counters for `health`."""

    depth: int
    dropped_total: int
    rejected_total: int
    ingress_dropped_total: int
    oldest_age_s: float | None
    recovered_corrupt: bool


class DurablePublisher:
    """Events go through the outbox; retained state topics are kept and resent on connect."""

    def __init__(
        self,
        outbox: Outbox,
        batch_max: int,
        inflight_max: int,
        ingress_max: int = 50_000,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._batch_max = batch_max
        self._inflight_max = inflight_max
        self._ingress_max = ingress_max
        self._clock = wall_clock
        self._link: MqttLink | None = None
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._durable = threading.Condition(self._lock)
        self._submitted = 0  # guarded by _lock
        self._committed = 0  # guarded by _lock
        self._ingress_dropped = 0  # guarded by _lock
        self._states: dict[str, bytes] = {}  # guarded by _lock
        # Acknowledgements pile up here (deque appends are thread-safe) and wake the worker
        # only when half the window is free: one wake-up per many events keeps paho's
        # network thread working alone, as in a bare publish loop.
        self._acks: deque[tuple[int, bool]] = deque()
        self._ack_wake = max(1, inflight_max // 2)
        self._inflight: dict[int, int] = {}  # mid -> seq; worker thread only
        self._to_commit: list[tuple[str, bytes]] = []  # taken from the queue, not yet on disk
        self._cursor = 0  # highest seq handed to paho; worker thread only
        # Committed events above the cursor, kept in memory so sending needs no read-back.
        # "Spilled" means some exist only on disk (backlog at start, after a drop, or more
        # than _PENDING_MAX); then the outbox is read until it has caught up.
        self._pending: deque[StoredEvent] = deque()
        self._spilled = outbox.depth > 0
        self._rejected = 0
        self._outbox_oldest: float | None = None  # refreshed by the worker, read by stats()
        self._oldest_checked = 0.0
        self._link_up = False
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)

    def attach(self, link: MqttLink) -> None:
        """Use `link` to deliver; without one, events stay in the outbox."""
        self._link = link

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    # --- called from any thread -------------------------------------------------------

    def submit(self, topic: str, payload: bytes) -> bool:
        """Accept an event for durable delivery. Never blocks.

        Returns False (and counts it) only if the in-memory hand-off queue is full, which
        means the disk has stalled for a long time.
        """
        with self._lock:
            if self._submitted - self._committed >= self._ingress_max:
                self._ingress_dropped += 1
                return False
            self._submitted += 1
        self._queue.put((topic, payload))
        return True

    def flush(self, timeout_s: float) -> bool:
        """Wait until every event submitted so far is committed to disk."""
        deadline = time.monotonic() + timeout_s
        with self._durable:
            target = self._submitted
            while self._committed < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._durable.wait(remaining)
        return True

    def set_state(self, topic: str, payload: bytes) -> None:
        """Publish a retained state now (if connected) and again after every reconnect."""
        with self._lock:
            self._states[topic] = payload
        link = self._link
        if link is not None and link.connected:
            link.publish(topic, payload, retain=True)

    def publish_transient(self, topic: str, payload: bytes) -> None:
        """Best-effort, not spooled (live metrics, command results): dropped when offline."""
        link = self._link
        if link is not None and link.connected:
            link.publish(topic, payload)

    def stats(self) -> PublisherStats:
        """A snapshot for health; cheap enough to call every few seconds."""
        oldest = self._outbox_oldest
        return PublisherStats(
            depth=self._outbox.depth + (self._submitted - self._committed),
            dropped_total=self._outbox.dropped_total,
            rejected_total=self._rejected,
            ingress_dropped_total=self._ingress_dropped,
            oldest_age_s=None if oldest is None else max(0.0, self._clock() - oldest),
            recovered_corrupt=self._outbox.recovered_corrupt,
        )

    def stop(self, timeout_s: float) -> None:
        """Commit what was submitted, try to deliver it within `timeout_s`, stop the worker.

        Undelivered events stay in the outbox for the next start.
        """
        self.flush(timeout_s)
        deadline = time.monotonic() + timeout_s
        while self._link is not None and self._link.connected and time.monotonic() < deadline:
            if self._outbox.depth == 0:
                break
            time.sleep(0.02)
        if self._thread.is_alive():
            self._queue.put(_Signal("stop"))
            self._thread.join(timeout=max(1.0, deadline - time.monotonic()))
        self._outbox.close()

    # --- LinkListener, from paho's thread ------------------------------------------------

    def on_link_up(self) -> None:
        """Republish every retained state, then let the worker resume sending."""
        with self._lock:
            states = list(self._states.items())
        if self._link is not None:
            for topic, payload in states:
                self._link.publish(topic, payload, retain=True)
        self._queue.put(_Signal("link_up"))

    def on_link_down(self) -> None:
        """Pause handing new events to paho; what it holds is resent on reconnect."""
        self._queue.put(_Signal("link_down"))

    def on_published(self, mid: int, refused: bool) -> None:
        """Record the acknowledgement for the worker (which owns the outbox)."""
        self._acks.append((mid, refused))
        if len(self._acks) == self._ack_wake:
            self._queue.put(_Signal("acks"))

    # --- worker thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                if not self._turn():
                    return
            except Exception:
                # A disk or client error must not end delivery: log it, pause, go on. Nothing
                # is lost: committed events stay in the outbox and are sent on a later turn.
                logger.exception("Outbox worker failed; retrying")
                time.sleep(_IDLE_WAKE_S)

    def _turn(self) -> bool:
        """One pass: take what is queued, commit, forget acknowledged, send. False: stop."""
        try:
            first = self._queue.get(timeout=_ACK_POLL_S if self._inflight else _IDLE_WAKE_S)
        except queue.Empty:
            first = None
        if first is not None and not self._drain(first):
            return False
        self._commit_pending()  # retries a batch a failed turn could not commit
        self._outbox.delete(self._take_acks())
        self._send()
        now = time.monotonic()
        if first is None or now - self._oldest_checked >= 1.0:
            # Health only needs this roughly; under load, once a second is plenty.
            self._oldest_checked = now
            self._outbox_oldest = self._outbox.oldest_created_s()
        return True

    def _drain(self, first: _Item) -> bool:
        """Handle `first` and whatever else is queued; False when asked to stop."""
        item: _Item | None = first
        keep_running = True
        while item is not None:
            if isinstance(item, tuple):
                self._to_commit.append(item)
            elif item.kind == "stop":
                keep_running = False
            elif item.kind in ("link_up", "link_down"):
                self._link_up = item.kind == "link_up"
            if len(self._to_commit) >= self._batch_max:
                self._commit_pending()
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = None
        self._commit_pending()
        return keep_running

    def _take_acks(self) -> list[int]:
        """Sequence numbers the broker acknowledged since the last call."""
        acked = []
        while self._acks:
            mid, refused = self._acks.popleft()
            seq = self._inflight.pop(mid, None)
            if seq is None:
                continue  # a state topic or command result, not an outbox event
            if refused:
                # Retrying a refusal (e.g. an ACL denial) forever would block later events.
                self._rejected += 1
                logger.warning("Broker refused event %d; dropping it", seq)
            acked.append(seq)
        return acked

    def _commit_pending(self) -> None:
        """Commit what was taken from the queue; kept for the next turn if the disk fails."""
        events = self._to_commit
        if not events:
            return
        dropped = self._outbox.append(events)
        self._to_commit = []
        if dropped:
            logger.warning(
                "Outbox full (%d events): dropped the %d oldest", self._outbox.max_events, dropped
            )
            self._spilled = True
            self._pending.clear()
        elif not self._spilled and len(self._pending) + len(events) <= _PENDING_MAX:
            first = self._outbox.last_seq - len(events) + 1
            self._pending.extend(
                StoredEvent(seq, *event) for seq, event in enumerate(events, start=first)
            )
        else:
            self._spilled = True
        with self._durable:
            self._committed += len(events)
            self._durable.notify_all()

    def _send(self) -> None:
        """Hand the next events, in order, to paho while the window has room."""
        link = self._link
        if link is None or not self._link_up:
            return
        room = self._inflight_max - len(self._inflight)
        if room <= 0:
            return
        for seq, topic, payload in self._next_events(room):
            self._inflight[link.publish(topic, payload)] = seq
            self._cursor = seq

    def _next_events(self, limit: int) -> list[StoredEvent]:
        """The next `limit` committed events above the cursor, from memory when possible."""
        if self._spilled:
            events = self._outbox.fetch_after(self._cursor, limit)
            if len(events) < limit:  # caught up with the disk: memory is complete again
                self._spilled = False
                self._pending.clear()
            return events
        count = min(limit, len(self._pending))
        return [self._pending.popleft() for _ in range(count)]
