"""One interaction's timeline and its peak-end summary.

What a customer remembers of an experience is mostly its most intense moment and its end
(Kahneman's peak-end rule), so the summary carries the negative and positive peaks, the end
state, the mean, and a coarse trajectory. The timeline is downsampled and bounded.
"""

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Literal

from edge.config.mood import TrajectoryRule
from edge.events.base import MoodState
from edge.mood.smoothing import SmoothedMood

Trajectory = Literal["improving", "worsening", "stable", "mixed"]


@dataclass(frozen=True, slots=True)
class MoodMoment:
    """A point of the timeline, relative to the interaction's start."""

    t_rel_s: float
    state: MoodState
    valence: float
    arousal: float
    intensity: float
    """Distance from neutral in [0, 1] along the valence axis."""


@dataclass(frozen=True, slots=True)
class PeakEnd:
    """The summary an interaction's end event carries."""

    duration_s: float
    peak_negative: MoodMoment | None
    peak_positive: MoodMoment | None
    end: MoodMoment | None
    mean_valence: float
    trajectory: Trajectory


class InteractionRecorder:
    """Collects known-state moments at most every `sample_period_s`, at most `max_samples`."""

    def __init__(
        self,
        sample_period_s: float = 1.0,
        max_samples: int = 3600,
        rule: TrajectoryRule | None = None,
    ) -> None:
        self._period = sample_period_s
        self._rule = rule or TrajectoryRule()
        self._moments: deque[MoodMoment] = deque(maxlen=max_samples)
        self._start_s = 0.0
        self._last_sample_s: float | None = None

    def start(self, now_mono_s: float) -> None:
        """Begin a new interaction (clears the previous timeline)."""
        self.reset()
        self._start_s = now_mono_s

    def reset(self) -> None:
        """Forget the timeline."""
        self._moments.clear()
        self._last_sample_s = None

    def add(self, mood: SmoothedMood) -> None:
        """Record `mood` if it is known and the sampling period has passed."""
        if mood.state == "unknown":
            return
        if self._last_sample_s is not None and mood.t_mono_s - self._last_sample_s < self._period:
            return
        self._last_sample_s = mood.t_mono_s
        self._moments.append(
            MoodMoment(
                t_rel_s=round(max(0.0, mood.t_mono_s - self._start_s), 1),
                state=mood.state,
                valence=mood.valence,
                arousal=mood.arousal,
                intensity=min(1.0, abs(mood.valence)),
            )
        )

    def summary(self, now_mono_s: float) -> PeakEnd:
        """The peak-end summary of everything recorded since `start`."""
        moments = list(self._moments)
        negatives = [m for m in moments if m.valence < 0]
        positives = [m for m in moments if m.valence > 0]
        valences = [m.valence for m in moments]
        return PeakEnd(
            duration_s=round(max(0.0, now_mono_s - self._start_s), 1),
            peak_negative=min(negatives, key=lambda m: m.valence) if negatives else None,
            peak_positive=max(positives, key=lambda m: m.valence) if positives else None,
            end=moments[-1] if moments else None,
            mean_valence=statistics.fmean(valences) if valences else 0.0,
            trajectory=self._trajectory(valences),
        )

    def _trajectory(self, valences: list[float]) -> Trajectory:
        if len(valences) < 3:
            return "stable"
        third = len(valences) // 3
        moved = statistics.fmean(valences[-third:]) - statistics.fmean(valences[:third])
        if moved >= self._rule.change:
            return "improving"
        if moved <= -self._rule.change:
            return "worsening"
        return "mixed" if statistics.pstdev(valences) > self._rule.spread else "stable"
