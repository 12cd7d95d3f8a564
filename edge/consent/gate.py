"""The consent gate: a state machine that decides whether captured media may be processed.

    none --grant--> granted --person present--> active --withdraw/timeout/left/end--> none
      any --staff pause--> paused --resume--> none

Media is admitted only in `granted` (to find the person who consented) and `active`;
everything else is dropped before any feature is computed, and counted. Leaving `active`
or `granted` resets every registered buffer, so nothing of a person outlives their consent.
In `notice` mode (posted notices instead of per-person opt-in: the operator's legal
decision, off by default) consent counts as granted whenever staff have not paused.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from edge.events.base import ConsentMode, ConsentReason, ConsentSource, ConsentState
from edge.events.ids import new_random_id

# The consent vocabulary is the wire contract's (consent/1), so the two cannot drift apart.
Reason = ConsentReason
Source = ConsentSource
T = TypeVar("T")


class Resettable(Protocol):
    """A stage holding per-person state (buffers, smoothing, tracks)."""

    def reset(self) -> None:
        """Forget everything about the current person."""


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One transition, for the retained `consent` topic and the local ledger."""

    state: ConsentState
    mode: ConsentMode
    interaction_id: str | None
    reason: Reason
    source: Source
    at_mono_s: float


@dataclass(slots=True)
class GateCounters:
    """What the gate let through or dropped (the privacy tests read these)."""

    admitted_audio: int = 0
    admitted_frames: int = 0
    dropped_audio: int = 0
    dropped_frames: int = 0


@dataclass(slots=True)
class ConsentGate:
    """Pure stage: time comes in as arguments; transitions return `ConsentChange`s."""

    mode: ConsentMode = "opt_in"
    grant_timeout_s: float = 60.0
    max_interaction_s: float = 900.0
    state: ConsentState = "none"
    interaction_id: str | None = None
    counters: GateCounters = field(default_factory=GateCounters)
    _since_mono_s: float = 0.0
    _resettables: list[Resettable] = field(default_factory=list)
    _new_id: Callable[[], str] = new_random_id

    def register(self, stage: Resettable) -> None:
        """Reset `stage` whenever consent or the interaction ends."""
        self._resettables.append(stage)

    def start(self, now_mono_s: float) -> ConsentChange:
        """The state at service start (in notice mode, consent is granted from the start)."""
        self.state = "granted" if self.mode == "notice" else "none"
        self._since_mono_s = now_mono_s
        return self._change("startup", "system", now_mono_s)

    # --- media -------------------------------------------------------------------------

    def admit_audio(self, chunk: T) -> T | None:
        """`chunk` if it may be processed, else None (dropped and counted)."""
        if self.state in ("granted", "active"):
            self.counters.admitted_audio += 1
            return chunk
        self.counters.dropped_audio += 1
        return None

    def admit_frame(self, frame: T) -> T | None:
        """`frame` if it may be processed, else None (dropped and counted)."""
        if self.state in ("granted", "active"):
            self.counters.admitted_frames += 1
            return frame
        self.counters.dropped_frames += 1
        return None

    # --- transitions --------------------------------------------------------------------

    def grant(self, source: Source, now_mono_s: float) -> ConsentChange | None:
        """A customer consented (kiosk screen, staff, or a signed MQTT command)."""
        if self.state != "none":
            return None
        self.state = "granted"
        self._since_mono_s = now_mono_s
        return self._change("granted", source, now_mono_s)

    def person_present(self, now_mono_s: float) -> ConsentChange | None:
        """The consenting person is in front of the kiosk: the interaction begins."""
        if self.state != "granted":
            return None
        self.state = "active"
        self.interaction_id = self._new_id()
        self._since_mono_s = now_mono_s
        return self._change("interaction_started", "system", now_mono_s)

    def withdraw(self, source: Source, now_mono_s: float) -> ConsentChange | None:
        """Consent withdrawn: processing stops now and every buffer is cleared."""
        if self.state not in ("granted", "active"):
            return None
        return self._finish("withdrawn", source, now_mono_s)

    def end(
        self, reason: Literal["left", "ended", "timeout"], now_mono_s: float
    ) -> ConsentChange | None:
        """The interaction ended (person left, finished, or ran too long)."""
        if self.state not in ("granted", "active"):
            return None
        return self._finish(reason, "system", now_mono_s)

    def tick(self, now_mono_s: float) -> ConsentChange | None:
        """Apply timeouts: an unused grant expires, an interaction has a maximum length."""
        elapsed = now_mono_s - self._since_mono_s
        if self.state == "granted" and self.mode == "opt_in" and elapsed > self.grant_timeout_s:
            return self._finish("timeout", "system", now_mono_s)
        if self.state == "active" and elapsed > self.max_interaction_s:
            return self._finish("timeout", "system", now_mono_s)
        return None

    def staff_pause(self, source: Source, now_mono_s: float) -> ConsentChange | None:
        """Staff at the kiosk: stop all scoring (staff must never be scored)."""
        if self.state == "paused":
            return None
        self._reset_all()
        self.state, self.interaction_id = "paused", None
        return self._change("staff_pause", source, now_mono_s)

    def staff_resume(self, source: Source, now_mono_s: float) -> ConsentChange | None:
        """Staff left: back to waiting for consent (granted again in notice mode)."""
        if self.state != "paused":
            return None
        self.state = "granted" if self.mode == "notice" else "none"
        self._since_mono_s = now_mono_s
        return self._change("staff_resume", source, now_mono_s)

    def _finish(self, reason: Reason, source: Source, now_mono_s: float) -> ConsentChange:
        self._reset_all()
        self.state = "granted" if self.mode == "notice" else "none"
        self.interaction_id = None
        self._since_mono_s = now_mono_s
        return self._change(reason, source, now_mono_s)

    def _reset_all(self) -> None:
        for stage in self._resettables:
            stage.reset()

    def _change(self, reason: Reason, source: Source, now_mono_s: float) -> ConsentChange:
        return ConsentChange(self.state, self.mode, self.interaction_id, reason, source, now_mono_s)
