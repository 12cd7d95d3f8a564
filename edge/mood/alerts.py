"""Alerts when the customer's negative state stays beyond the site's normal range.

Rule: the smoothed state is frustrated or upset and its negative intensity exceeds the
baseline's quantile (never below a floor) for `hold_s` -> `new`; `update` every
`update_every_s` while it lasts (carrying any acknowledgement); `end` once it has stayed
below threshold minus a margin for `clear_s`, or when the interaction ends. After an end,
`cooldown_s` passes before another alert in the same interaction.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from edge.config.mood import AlertRule
from edge.events.base import MoodState
from edge.events.ids import new_random_id
from edge.mood.baseline import BaselineSketch
from edge.mood.smoothing import SmoothedMood
from edge.mood.states import negative_intensity


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """When and through which channel staff acknowledged (never who)."""

    wall_s: float
    via: Literal["tablet", "mqtt"]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One step of an alert's lifecycle."""

    alert_id: str
    phase: Literal["new", "update", "end"]
    rule: str
    state: MoodState
    duration_s: float
    intensity: float
    threshold: float
    message: str
    acknowledged: Acknowledged | None
    end_reason: Literal["recovered", "interaction_ended"] | None


@dataclass(slots=True)
class _Active:
    alert_id: str
    started_s: float
    state: MoodState
    intensity: float
    threshold: float
    last_sent_s: float
    below_since_s: float | None = None
    acknowledged: Acknowledged | None = None


class AlertEngine:
    """Pure stage: one active alert at most per interaction; time comes in as arguments."""

    def __init__(
        self,
        rule: AlertRule,
        baseline: BaselineSketch,
        new_id: Callable[[], str] = new_random_id,
    ) -> None:
        self._rule, self._baseline, self._new_id = rule, baseline, new_id
        self.reset()

    def reset(self) -> None:
        """Forget the interaction (the baseline is the site's and stays)."""
        self._above_since: float | None = None
        self._active: _Active | None = None
        self._ended_s: float | None = None

    def threshold(self) -> float:
        """The current negative-intensity threshold for this site."""
        return max(self._rule.floor, self._baseline.quantile(self._rule.quantile))

    def process(self, mood: SmoothedMood) -> AlertEvent | None:
        """Advance the rule with one smoothed estimate."""
        now, threshold = mood.t_mono_s, self.threshold()
        negative = mood.state in ("frustrated", "upset")
        intensity = negative_intensity(mood.valence) if negative else 0.0
        if self._active is not None:
            return self._continue(self._active, mood, intensity, now)
        if intensity <= threshold:
            self._above_since = None
            return None
        if self._above_since is None:
            self._above_since = now
        cooling = self._ended_s is not None and now - self._ended_s < self._rule.cooldown_s
        if now - self._above_since < self._rule.hold_s or cooling:
            return None
        self._active = _Active(
            self._new_id(), self._above_since, mood.state, intensity, threshold, now
        )
        return self._event(self._active, "new", now)

    def acknowledge(self, alert_id: str, via: Literal["tablet", "mqtt"], wall_s: float) -> bool:
        """Record a staff acknowledgement; it appears in the alert's next update."""
        if self._active is None or self._active.alert_id != alert_id:
            return False
        self._active.acknowledged = Acknowledged(wall_s, via)
        return True

    def end_interaction(self, now_mono_s: float) -> AlertEvent | None:
        """The interaction ended: close any open alert."""
        active, self._active = self._active, None
        self._above_since = None
        return (
            None if active is None else self._event(active, "end", now_mono_s, "interaction_ended")
        )

    def _continue(
        self, active: _Active, mood: SmoothedMood, intensity: float, now: float
    ) -> AlertEvent | None:
        if intensity > 0:
            active.state, active.intensity = mood.state, max(active.intensity, intensity)
        if intensity >= active.threshold - self._rule.clear_margin:
            active.below_since_s = None
        elif active.below_since_s is None:
            active.below_since_s = now
        elif now - active.below_since_s >= self._rule.clear_s:
            self._active, self._above_since, self._ended_s = None, None, now
            return self._event(active, "end", now, "recovered")
        if now - active.last_sent_s >= self._rule.update_every_s:
            active.last_sent_s = now
            return self._event(active, "update", now)
        return None

    def _event(
        self,
        active: _Active,
        phase: Literal["new", "update", "end"],
        now: float,
        end_reason: Literal["recovered", "interaction_ended"] | None = None,
    ) -> AlertEvent:
        duration = round(max(0.0, now - active.started_s), 1)
        return AlertEvent(
            alert_id=active.alert_id,
            phase=phase,
            rule=self._rule.name,
            state=active.state,
            duration_s=duration,
            intensity=round(active.intensity, 3),
            threshold=round(active.threshold, 3),
            message=f"customer {active.state} for {int(duration)} s",
            acknowledged=active.acknowledged,
            end_reason=end_reason,
        )
