"""The durable publisher: accept events without blocking, commit them to the outbox, send
them in order with QoS 1, and forget them only once the broker has acknowledged them.

Threads: callers only enqueue (`submit`); one worker thread owns the outbox and hands events
to paho; paho's network thread reports acknowledgements back through the same queue. The
worker holds the GIL as little as it can: paho's network thread is what sets the pace.
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
from edge.publish.outbox import Outbox

logger = logging.getLogger(__name__)

_IDLE_WAKE_S = 0.5
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
        self._durable = threading.Condition(self._lock)  # notified after each commit
        self._delivered = threading.Condition(self._lock)  # notified when the outbox empties
        self._submitted = 0  # guarded by _lock
        self._committed = 0  # guarded by _lock
        self._ingress_dropped = 0  # guarded by _lock
        self._states: dict[str, bytes] = {}  # guarded by _lock
        # Acknowledged mids (negated when the broker refused) pile up here (deque appends
        # are thread-safe) and wake the worker only when half the window is free or nothing
        # else is outstanding: one wake-up per many events keeps paho's network thread
        # working alone, as in a bare publish loop.
        self._acks: deque[int] = deque()
        self._ack_wake = max(1, inflight_max // 2)
        # mid -> seq in send order (= seq order), so the first value is the oldest event
        # still awaiting its PUBACK; worker thread only.
        self._inflight: dict[int, int] = {}
        self._deleted_through = 0  # every event up to this seq is gone from the outbox
        self._to_commit: list[tuple[str, bytes]] = []  # taken from the queue, not yet on disk
        self._cursor = 0  # highest seq handed to paho; worker thread only
        # Committed events above the cursor, kept in memory as whole batches (seq of the
        # first event, events) so sending needs neither a read-back nor an object per event.
        # "Spilled" means some exist only on disk (backlog at start, after a drop, or more
        # than ingress_max in memory); then the outbox is read until it has caught up.
        self._pending: deque[tuple[int, list[tuple[str, bytes]]]] = deque()
        self._pending_count = 0
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
        with self._durable:
            target = self._submitted
            return self._durable.wait_for(lambda: self._committed >= target, timeout_s)

    def wait_delivered(self, timeout_s: float) -> bool:
        """Wait until every event submitted so far is committed, acknowledged by the broker
        and gone from the outbox. False on timeout."""
        deadline = time.monotonic() + timeout_s
        if not self.flush(timeout_s):
            return False
        with self._delivered:
            return self._delivered.wait_for(
                lambda: self._outbox.depth == 0, deadline - time.monotonic()
            )

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
        deadline = time.monotonic() + timeout_s
        self.flush(timeout_s)
        link = self._link
        with self._delivered:
            # on_link_down notifies too: once offline, waiting any longer is pointless.
            self._delivered.wait_for(
                lambda: self._outbox.depth == 0 or link is None or not link.connected,
                deadline - time.monotonic(),
            )
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
        with self._delivered:
            self._delivered.notify_all()

    def on_published(self, mid: int, refused: bool) -> None:
        """Record the acknowledgement for the worker (which owns the outbox)."""
        acks = self._acks
        acks.append(-mid if refused else mid)
        waiting = len(acks)
        # The second test wakes the worker for the last events of a burst at once rather
        # than at its next poll (`len` of a dict is atomic; a stale read only costs a wake).
        if waiting == self._ack_wake or waiting == len(self._inflight):
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
            item: _Item | None = self._queue.get(
                timeout=_ACK_POLL_S if self._inflight else _IDLE_WAKE_S
            )
        except queue.Empty:
            item = None
        idle = item is None
        keep_running = True
        while item is not None:
            if isinstance(item, tuple):
                self._to_commit.append(item)
                if len(self._to_commit) >= self._batch_max:
                    # Send after every batch, not after draining a whole burst: paho starts
                    # on the first events while later ones are still being committed.
                    self._step()
            elif item.kind == "stop":
                keep_running = False
            elif item.kind in ("link_up", "link_down"):
                self._link_up = item.kind == "link_up"
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = None
        self._step()
        now = time.monotonic()
        if idle or now - self._oldest_checked >= 1.0:
            # Health only needs this roughly; under load, once a second is plenty.
            self._oldest_checked = now
            self._outbox_oldest = self._outbox.oldest_created_s()
        return keep_running

    def _step(self) -> None:
        """Commit what was taken (retrying a batch a failed turn could not commit), forget
        what the broker acknowledged, hand paho the next events."""
        self._commit_pending()
        self._take_acks()
        # Everything sent before the oldest unacknowledged event is delivered: one range
        # delete, however many PUBACKs arrived (an early out-of-order ack waits for it).
        oldest = next(iter(self._inflight.values()), None)
        through = self._cursor if oldest is None else oldest - 1
        if through > self._deleted_through:
            self._outbox.delete_through(through)
            self._deleted_through = through
            if self._outbox.depth == 0:
                with self._delivered:
                    self._delivered.notify_all()
        self._send()

    def _take_acks(self) -> None:
        """Forget the in-flight entries the broker acknowledged since the last call."""
        acks, forget = self._acks, self._inflight.pop
        for _ in range(len(acks)):
            mid = acks.popleft()
            if mid > 0:
                forget(mid, None)  # None: a state topic or command result, not an event
                continue
            seq = forget(-mid, None)
            if seq is not None:
                # Retrying a refusal (e.g. an ACL denial) forever would block later events.
                self._rejected += 1
                logger.warning("Broker refused event %d; dropping it", seq)

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
            self._pending_count = 0
        elif not self._spilled and self._pending_count + len(events) <= self._ingress_max:
            self._pending.append((self._outbox.last_seq - len(events) + 1, events))
            self._pending_count += len(events)
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
        if self._spilled:
            self._send_from_disk(link, room)
        else:
            self._send_from_memory(link, room)

    def _send_from_memory(self, link: MqttLink, room: int) -> None:
        publish, inflight, pending = link.publish, self._inflight, self._pending
        while room > 0 and pending:
            first, events = pending[0]
            batch = events if len(events) <= room else events[:room]
            seq = first
            for topic, payload in batch:
                inflight[publish(topic, payload)] = seq
                seq += 1
            self._cursor = seq - 1
            if batch is events:
                pending.popleft()
            else:
                pending[0] = (seq, events[room:])
            room -= len(batch)
            self._pending_count -= len(batch)

    def _send_from_disk(self, link: MqttLink, room: int) -> None:
        events = self._outbox.fetch_after(self._cursor, room)
        for seq, topic, payload in events:
            self._inflight[link.publish(topic, payload)] = seq
            self._cursor = seq
        if len(events) < room:  # caught up with the disk: memory is complete again
            self._spilled = False
            self._pending.clear()
            self._pending_count = 0
