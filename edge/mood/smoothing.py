"""Smoothing over time so that single frames never flip the state.

A time-aware exponential moving average (the weight of a new estimate depends on how long it
has been since the last), a warm-up before any state is claimed, and hysteresis: a new state
must hold for `hold_s` before it replaces the current one.
"""

import math
from dataclasses import dataclass

from edge.config.mood import SmoothingConfig, StateThresholds
from edge.events.base import MoodState
from edge.labels import CATEGORIES
from edge.mood.fusion import FusedEstimate
from edge.mood.states import cx_state


@dataclass(frozen=True, slots=True)
class SmoothedMood:
    """The engine's current view of the customer."""

    t_mono_s: float
    probabilities: dict[str, float]
    valence: float
    arousal: float
    confidence: float
    state: MoodState
    voice_weight: float
    face_weight: float


class MoodSmoother:
    """EMA + warm-up + hysteresis; holds only scalars, so it is bounded by construction."""

    def __init__(self, config: SmoothingConfig, thresholds: StateThresholds) -> None:
        self._config = config
        self._thresholds = thresholds
        self.reset()

    def reset(self) -> None:
        """Forget the current person entirely."""
        self._first_s: float | None = None
        self._last_s: float | None = None
        self._values: dict[str, float] = {}
        self._state: MoodState = "unknown"
        self._pending: tuple[MoodState, float] | None = None

    def process(self, fused: FusedEstimate | None, now_mono_s: float) -> SmoothedMood | None:
        """Fold in `fused` (None: nothing usable this period); None before any reading."""
        if fused is not None:
            self._fold(fused, now_mono_s)
        if self._last_s is None or self._first_s is None:
            return None
        if now_mono_s - self._last_s > self._config.max_gap_s:
            self._state, self._pending = "unknown", None
        elif now_mono_s - self._first_s >= self._config.warmup_s:
            self._update_state(now_mono_s)
        v = self._values
        return SmoothedMood(
            t_mono_s=now_mono_s,
            probabilities={c: v[c] for c in CATEGORIES},
            valence=v["valence"],
            arousal=v["arousal"],
            confidence=v["confidence"],
            state=self._state,
            voice_weight=v["voice_weight"],
            face_weight=v["face_weight"],
        )

    def _fold(self, fused: FusedEstimate, now_mono_s: float) -> None:
        sample = {
            **{c: fused.scores.probabilities.get(c, 0.0) for c in CATEGORIES},
            "valence": fused.scores.valence,
            "arousal": fused.scores.arousal,
            "confidence": fused.scores.confidence,
            "voice_weight": fused.voice_weight,
            "face_weight": fused.face_weight,
        }
        if self._last_s is None:
            self._values, self._first_s = sample, now_mono_s
        else:
            dt = max(0.0, now_mono_s - self._last_s)
            alpha = 1.0 - math.exp(-dt / self._config.tau_s)
            self._values = {k: (1 - alpha) * self._values[k] + alpha * x for k, x in sample.items()}
        self._last_s = now_mono_s

    def _update_state(self, now_mono_s: float) -> None:
        v = self._values
        candidate = cx_state(v["valence"], v["arousal"], v["confidence"], self._thresholds)
        if candidate == self._state:
            self._pending = None
        elif self._pending is None or self._pending[0] != candidate:
            self._pending = (candidate, now_mono_s)
        elif now_mono_s - self._pending[1] >= self._config.hold_s or self._state == "unknown":
            self._state, self._pending = candidate, None
