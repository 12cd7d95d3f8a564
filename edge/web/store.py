"""The store view: the other devices of this site, as their messages arrive from the broker.

`StoreView.apply(topic, payload, now_s)` checks one message of a sibling device against the
contract's payload models and keeps a small, bounded picture per device: online or offline
(retained `status`), current interactions (state, how long, mood history for the trend) and
open alerts. It does no I/O and takes no lock: the event hub calls it under its own lock.
Messages on unexpected topics or with payloads the contract does not allow are counted and
ignored. Nothing kept identifies a person: interactions are shown by the last characters of
their random id, which dies with the interaction.
"""

import json
import logging
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from edge.config.ids import validate_topic_id
from edge.events.mood_payloads import (
    INTERACTION_ADAPTER,
    AlertPayload,
    InteractionEnd,
    InteractionStart,
    MoodPayload,
)
from edge.events.state_payloads import StatusPayload
from edge.events.topics import Leaf, Topics

logger = logging.getLogger(__name__)

STORE_LEAVES = (Leaf.STATUS, Leaf.INTERACTION, Leaf.MOOD, Leaf.ALERT)
MAX_DEVICES = 64
MAX_VISITS = 4
MAX_ALERTS = 8
MOOD_HISTORY = 12
STALE_S = 120.0
"""A visit not heard of for this long is dropped: its `end` was missed (moods come every
`mood.mood_period_s`, at most 60 s apart, while it lasts)."""
REF_CHARS = 6

_PARSERS: dict[Leaf, Callable[[bytes], BaseModel]] = {
    Leaf.STATUS: StatusPayload.model_validate_json,
    Leaf.INTERACTION: INTERACTION_ADAPTER.validate_json,
    Leaf.MOOD: MoodPayload.model_validate_json,
    Leaf.ALERT: AlertPayload.model_validate_json,
}


@dataclass(slots=True)
class _Visit:
    heard_s: float
    t_rel_s: float = 0.0
    state: str = "unknown"
    valences: deque[float] = field(default_factory=lambda: deque(maxlen=MOOD_HISTORY))


@dataclass(slots=True)
class _Alert:
    payload: AlertPayload
    heard_s: float


@dataclass(slots=True)
class _Device:
    online: bool | None = None
    """None until its retained `status` arrives (or while our own link is down)."""
    since: str | None = None
    visits: dict[str, _Visit] = field(default_factory=dict)
    alerts: dict[str, _Alert] = field(default_factory=dict)


class StoreView:
    """What the staff page shows of the site's other devices."""

    def __init__(self, topics: Topics, can_ack: bool) -> None:
        self.own_device = topics.device_id
        self.can_ack = can_ack
        """A site command key is configured: remote alerts can be acknowledged from here."""
        self._head = f"{topics.prefix}/{topics.site_id}/"
        self._devices: dict[str, _Device] = {}
        self.ignored: Counter[str] = Counter()
        """Messages ignored, by reason: `topic`, `payload`, `too_many_devices`."""

    @property
    def filters(self) -> list[str]:
        """The subscriptions: every device of the site, the leaves the page shows."""
        return [f"{self._head}+/{leaf.value}" for leaf in STORE_LEAVES]

    def devices(self) -> list[str]:
        """Known sibling devices, sorted."""
        return sorted(self._devices)

    def apply(self, topic: str, payload: bytes, now_s: float) -> list[str]:
        """Take one message; the devices whose view changed (empty when ignored)."""
        parsed = self._parse_topic(topic)
        if parsed is None:
            self._ignore("topic", None)
            return []
        device_id, leaf = parsed
        if device_id == self.own_device:
            return []  # our own events reach the page in-process, before the broker has them
        if leaf is Leaf.STATUS and not payload:
            # An emptied retained status: the device was taken out of service.
            return [device_id] if self._devices.pop(device_id, None) is not None else []
        try:
            message = _PARSERS[leaf](payload)
        except ValidationError:
            self._ignore("payload", device_id)
            return []
        device = self._devices.get(device_id)
        if device is None:
            if len(self._devices) >= MAX_DEVICES:
                self._ignore("too_many_devices", device_id)
                return []
            device = self._devices[device_id] = _Device()
        _remember(device, message, now_s)
        return sorted({device_id, *self.prune(now_s)})

    def link_down(self) -> list[str]:
        """Our broker connection dropped: nothing known is current any more."""
        for device in self._devices.values():
            device.online, device.since = None, None
            device.visits.clear()
            device.alerts.clear()
        return self.devices()

    def prune(self, now_s: float) -> list[str]:
        """Drop visits not heard of for STALE_S and alerts of visits that are gone."""
        changed = []
        for device_id, device in self._devices.items():
            stale = [key for key, v in device.visits.items() if now_s - v.heard_s > STALE_S]
            for key in stale:
                del device.visits[key]
            orphans = [
                key
                for key, a in device.alerts.items()
                if a.payload.interaction_id not in device.visits and now_s - a.heard_s > STALE_S
            ]
            for key in orphans:
                del device.alerts[key]
            if stale or orphans:
                changed.append(device_id)
        return changed

    def alert_open(self, device_id: str, alert_id: str) -> bool:
        """`alert_id` is an open, unacknowledged alert of that device."""
        device = self._devices.get(device_id)
        alert = device.alerts.get(alert_id) if device is not None else None
        return alert is not None and alert.payload.acknowledged is None

    def view(self, device_id: str, now_s: float) -> str:
        """One device for the page (JSON): state, visits, alerts; times as of `now_s`."""
        device = self._devices.get(device_id)
        if device is None:
            return json.dumps({"device": device_id, "gone": True})
        visits = [
            {
                "ref": key[-REF_CHARS:],
                "state": v.state,
                "for_s": round(v.t_rel_s + now_s - v.heard_s, 1),
                "valences": list(v.valences),
            }
            for key, v in device.visits.items()
        ]
        alerts = [_alert_view(a, now_s) for a in device.alerts.values()]
        return json.dumps(
            {
                "device": device_id,
                "online": device.online,
                "since": device.since,
                "visits": visits,
                "alerts": alerts,
            }
        )

    def intro(self) -> str:
        """The first event of a staff stream (JSON): which device is ours, can we ack."""
        return json.dumps({"device": self.own_device, "remote_ack": self.can_ack})

    def _parse_topic(self, topic: str) -> tuple[str, Leaf] | None:
        if not topic.startswith(self._head):
            return None
        parts = topic[len(self._head) :].split("/")
        if len(parts) != 2:
            return None
        device_id, leaf_name = parts
        try:
            validate_topic_id(device_id)
            leaf = Leaf(leaf_name)
        except ValueError:
            return None
        return (device_id, leaf) if leaf in STORE_LEAVES else None

    def _ignore(self, reason: str, device_id: str | None) -> None:
        self.ignored[reason] += 1
        count = self.ignored[reason]
        if math.log10(count).is_integer():  # 1st, 10th, 100th...: rate-limited, not silent
            logger.warning(
                "Store view ignored a message (%s, from %s); %d so far",
                reason,
                device_id or "an unknown topic",
                count,
            )


def _remember(device: _Device, message: BaseModel, now_s: float) -> None:
    if isinstance(message, StatusPayload):
        device.online, device.since = message.state == "online", message.time
        if message.state == "offline":
            # Its visits cannot go on without it; its outbox delivers their end later.
            device.visits.clear()
            device.alerts.clear()
    elif isinstance(message, InteractionStart):
        _visit(device, message.interaction_id, now_s)
    elif isinstance(message, InteractionEnd):
        device.visits.pop(message.interaction_id, None)
        ended = message.interaction_id
        for key in [k for k, a in device.alerts.items() if a.payload.interaction_id == ended]:
            del device.alerts[key]
    elif isinstance(message, MoodPayload):
        # A mood of an unknown visit (its start came before we listened) starts one here.
        visit = _visit(device, message.interaction_id, now_s)
        visit.t_rel_s, visit.state = message.t_rel_s, message.state
        visit.valences.append(round(message.valence, 3))
    elif isinstance(message, AlertPayload):
        if message.phase == "end":
            device.alerts.pop(message.alert_id, None)
        else:
            device.alerts.pop(message.alert_id, None)
            device.alerts[message.alert_id] = _Alert(message, now_s)
            while len(device.alerts) > MAX_ALERTS:
                del device.alerts[next(iter(device.alerts))]


def _visit(device: _Device, interaction_id: str, now_s: float) -> _Visit:
    visit = device.visits.get(interaction_id)
    if visit is None:
        visit = device.visits[interaction_id] = _Visit(now_s)
        if len(device.visits) > MAX_VISITS:  # keep the ones heard of most recently
            del device.visits[min(device.visits, key=lambda k: device.visits[k].heard_s)]
    visit.heard_s = now_s
    return visit


def _alert_view(alert: _Alert, now_s: float) -> dict[str, Any]:
    payload = alert.payload
    return {
        "alert_id": payload.alert_id,
        "state": payload.state,
        "message": payload.message,
        "for_s": round(payload.duration_s + now_s - alert.heard_s, 1),
        "acknowledged": (
            payload.acknowledged.model_dump(mode="json") if payload.acknowledged else None
        ),
    }
