"""Kiosk actions: consent, staff presence and alert acknowledgement, from any channel.

The kiosk screen, the staff tablet and signed MQTT commands all call these methods, so the
rules are the same whichever way an action arrives. The engine is stepped by the pipeline
thread; a lock serialises actions with it.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.commands.dispatcher import CommandFailed, CommandSpec
from edge.consent.gate import Source
from edge.mood.engine import MoodEngine, Output
from edge.pipeline.publishing import OutputPublisher


class ConsentArgs(BaseModel):
    """`cmd/consent`: grant or withdraw consent for the current interaction."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: Literal["grant", "withdraw"]


class StaffArgs(BaseModel):
    """`cmd/staff`: staff at the kiosk (pause all scoring) or gone."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    present: bool


class AckArgs(BaseModel):
    """`cmd/ack`: a staff member is on the way for this alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    alert_id: str = Field(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")


@dataclass(frozen=True, slots=True)
class KioskState:
    """What screens show: the consent state and the current interaction, if any."""

    consent: str
    mode: str
    interaction_id: str | None


class KioskActions:
    """Thread-safe front of the engine for every channel."""

    def __init__(
        self,
        engine: MoodEngine,
        publisher: OutputPublisher,
        now_mono_s: Callable[[], float] = time.monotonic,
        wall_s: Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        self._engine, self._publisher = engine, publisher
        self._now, self._wall = now_mono_s, wall_s

    def _apply(self, outputs: Callable[[], list[Output]], refusal: str) -> dict[str, str | None]:
        with self.lock:
            produced = outputs()
            if not produced:
                raise CommandFailed(refusal)
            self._publisher.publish(produced)
            return {"consent": self._engine.gate.state}

    def consent(
        self, action: Literal["grant", "withdraw"], source: Source
    ) -> dict[str, str | None]:
        """Grant (only from `none`) or withdraw (from `granted` or `active`) consent."""
        now = self._now()
        if action == "grant":
            return self._apply(
                lambda: self._engine.grant(source, now),
                f"cannot grant in state {self.state().consent}",
            )
        return self._apply(lambda: self._engine.withdraw(source, now), "no consent to withdraw")

    def staff(self, present: bool, source: Source) -> dict[str, str | None]:
        """Staff present: pause all scoring; gone: resume."""
        now = self._now()
        if present:
            return self._apply(lambda: self._engine.staff_pause(source, now), "already paused")
        return self._apply(lambda: self._engine.staff_resume(source, now), "not paused")

    def acknowledge(self, alert_id: str, via: Literal["tablet", "mqtt"]) -> dict[str, str | None]:
        """Record an acknowledgement; it shows in the alert's next update."""
        with self.lock:
            if not self._engine.acknowledge(alert_id, via, self._wall()):
                raise CommandFailed(f"no open alert {alert_id}")
        return {"acknowledged": alert_id}

    def state(self) -> KioskState:
        """The current consent state (for screens and command results)."""
        with self.lock:
            gate = self._engine.gate
            return KioskState(gate.state, gate.mode, gate.interaction_id)

    def command_specs(self) -> list[CommandSpec]:
        """The MQTT commands, going through the same methods as the screens."""
        return [
            CommandSpec("consent", ConsentArgs, lambda a: self.consent(a.action, "mqtt")),
            CommandSpec("staff", StaffArgs, lambda a: self.staff(a.present, "mqtt")),
            CommandSpec("ack", AckArgs, lambda a: self.acknowledge(a.alert_id, "mqtt")),
        ]
