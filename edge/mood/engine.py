"""The mood engine: consent-aware orchestration of fusion, smoothing, interactions and alerts.

Pure: time comes in as arguments and results go out as values; the runner publishes them.
Consent transitions go through the engine (not straight to the gate) so that an ending
interaction's peak-end summary and open alert are produced before its buffers are cleared.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from edge.config.mood import EngineConfig
from edge.consent.gate import ConsentChange, ConsentGate, Source
from edge.events.base import ConsentMode
from edge.mood.alerts import AlertEngine, AlertEvent
from edge.mood.baseline import BaselineSketch
from edge.mood.customer import CustomerSelector
from edge.mood.fusion import fuse
from edge.mood.interaction import InteractionRecorder, PeakEnd
from edge.mood.smoothing import MoodSmoother, SmoothedMood
from edge.mood.states import negative_intensity
from edge.types import EmotionScores, FaceReading, VoiceReading

EndReason = Literal["withdrawn", "timeout", "left", "ended"]
MAX_PENDING_BASELINE_SAMPLES = 3600
"""An hour of samples at the default `baseline_period_s`; consent times interactions out sooner."""

_END_REASONS: dict[str, EndReason] = {r: r for r in ("withdrawn", "timeout", "left", "ended")}


@dataclass(frozen=True, slots=True)
class ConsentUpdate:
    """The consent state changed (retained `consent` topic and the ledger)."""

    change: ConsentChange


@dataclass(frozen=True, slots=True)
class InteractionStarted:
    """An interaction began; `change.interaction_id` is its new random id."""

    change: ConsentChange


@dataclass(frozen=True, slots=True)
class InteractionEnded:
    """An interaction ended, with its peak-end summary."""

    interaction_id: str
    reason: EndReason
    summary: PeakEnd
    consent_mode: ConsentMode


@dataclass(frozen=True, slots=True)
class MoodUpdate:
    """A periodic smoothed mood of the active interaction."""

    mood: SmoothedMood
    interaction_id: str
    t_rel_s: float


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """One step of an alert's lifecycle."""

    event: AlertEvent
    interaction_id: str


Output = ConsentUpdate | InteractionStarted | InteractionEnded | MoodUpdate | AlertUpdate


class MoodEngine:
    """One kiosk's engine; the gate decides what may be processed at all."""

    def __init__(self, gate: ConsentGate, config: EngineConfig, baseline: BaselineSketch) -> None:
        self.gate, self.config, self.baseline = gate, config, baseline
        self._smoother = MoodSmoother(config.smoothing, config.thresholds)
        self._customer = CustomerSelector(config.attribution)
        self._recorder = InteractionRecorder(rule=config.trajectory)
        self._alerts = AlertEngine(config.alert, baseline)
        gate.register(self._smoother)
        gate.register(self._customer)
        self._started_s = self._last_seen_s = self._last_mood_s = self._last_baseline_s = 0.0
        self._voice: tuple[EmotionScores | None, float] | None = None
        # The site baseline learns an interaction only once it is over: learning while it runs
        # would let a long frustration raise its own alert threshold (seen in the e2e replay:
        # 0.34 -> 0.46 during the angry part on a fresh kiosk).
        self._baseline_pending: deque[float] = deque(maxlen=MAX_PENDING_BASELINE_SAMPLES)

    # --- consent transitions (from the kiosk screen, staff, or MQTT commands) -------------

    def grant(self, source: Source, now_mono_s: float) -> list[Output]:
        """A customer consented for one interaction."""
        return self._apply(lambda: self.gate.grant(source, now_mono_s), now_mono_s)

    def withdraw(self, source: Source, now_mono_s: float) -> list[Output]:
        """Consent withdrawn: the interaction ends now and its buffers are cleared."""
        return self._apply(lambda: self.gate.withdraw(source, now_mono_s), now_mono_s)

    def staff_pause(self, source: Source, now_mono_s: float) -> list[Output]:
        """Staff present: all scoring stops; an active interaction ends."""
        return self._apply(lambda: self.gate.staff_pause(source, now_mono_s), now_mono_s)

    def staff_resume(self, source: Source, now_mono_s: float) -> list[Output]:
        """Staff gone: wait for consent again."""
        return self._apply(lambda: self.gate.staff_resume(source, now_mono_s), now_mono_s)

    def finish(self, now_mono_s: float) -> list[Output]:
        """The recording or service ends: close the interaction, if any."""
        return self._apply(lambda: self.gate.end("ended", now_mono_s), now_mono_s)

    def acknowledge(self, alert_id: str, via: Literal["tablet", "mqtt"], wall_s: float) -> bool:
        """Staff acknowledged an alert; shows in its next update."""
        return self._alerts.acknowledge(alert_id, via, wall_s)

    # --- perception results ---------------------------------------------------------------

    def step(
        self, now_mono_s: float, faces: list[FaceReading], voices: list[VoiceReading]
    ) -> list[Output]:
        """Advance by one tick with this tick's readings (already consent-gated)."""
        out = self._apply(lambda: self.gate.tick(now_mono_s), now_mono_s)
        speech = any(v.speech for v in voices)
        if self.gate.state == "granted" and (faces or speech):
            out += self._apply(lambda: self.gate.person_present(now_mono_s), now_mono_s)
        if self.gate.state != "active" or self.gate.interaction_id is None:
            return out
        customer = self._customer.choose(faces)
        # Without any face (voice-only kiosk, camera covered) hearing speech means presence.
        if customer is not None or (speech and self._customer.track_id is None):
            self._last_seen_s = now_mono_s
        elif now_mono_s - self._last_seen_s > self.config.leave_after_s:
            return out + self._apply(lambda: self.gate.end("left", now_mono_s), now_mono_s)
        return out + self._score(now_mono_s, customer, voices, self.gate.interaction_id)

    def _score(
        self,
        now: float,
        customer: FaceReading | None,
        voices: list[VoiceReading],
        interaction_id: str,
    ) -> list[Output]:
        voice = self._current_voice(now, voices)
        face = customer.scores if customer is not None else None
        mood = self._smoother.process(fuse(voice, face, self.config.fusion), now)
        if mood is None:
            return []
        self._recorder.add(mood)
        out: list[Output] = []
        alert = self._alerts.process(mood)
        if alert is not None:
            out.append(AlertUpdate(alert, interaction_id))
        if now - self._last_mood_s >= self.config.mood_period_s:
            self._last_mood_s = now
            out.append(MoodUpdate(mood, interaction_id, now - self._started_s))
        if mood.state != "unknown" and now - self._last_baseline_s >= self.config.baseline_period_s:
            self._last_baseline_s = now
            self._baseline_pending.append(negative_intensity(mood.valence))
        return out

    def _current_voice(self, now: float, voices: list[VoiceReading]) -> EmotionScores | None:
        """The latest attributable speech scores, held until the next window is due.

        A voice window arrives once per hop (1 s) while frames arrive 15 times a second;
        holding it keeps the voice's share in the fusion, instead of 1 frame in 15.
        """
        if voices:
            latest = voices[-1]
            usable = latest.speech and latest.scores is not None
            attributable = usable and self._customer.voice_is_customers()
            self._voice = (latest.scores, now + self.config.voice_hold_s) if attributable else None
        if self._voice is None or now > self._voice[1]:
            return None
        return self._voice[0]

    def _apply(self, transition: Callable[[], ConsentChange | None], now: float) -> list[Output]:
        ending_id = self.gate.interaction_id if self.gate.state == "active" else None
        change = transition()
        if change is None:
            return []
        out: list[Output] = [ConsentUpdate(change)]
        if change.reason == "interaction_started":
            self._recorder.start(now)
            self._alerts.reset()
            self._started_s = self._last_seen_s = now
            self._last_mood_s = now - self.config.mood_period_s
            out.append(InteractionStarted(change))
        elif ending_id is not None and change.state != "active":
            # The recorder is not one of the gate's reset stages, so the summary is still
            # there: it is computed only when an interaction really ends, not on every tick.
            summary = self._recorder.summary(now)
            alert_end = self._alerts.end_interaction(now)
            if alert_end is not None:
                out.append(AlertUpdate(alert_end, ending_id))
            reason = _END_REASONS.get(change.reason, "ended")  # a staff pause ends it too
            out.append(InteractionEnded(ending_id, reason, summary, change.mode))
            if reason != "withdrawn":  # a customer who withdrew consent is not learned from
                for value in self._baseline_pending:
                    self.baseline.add(value)
            self._baseline_pending.clear()
            self._recorder.reset()
            self._alerts.reset()
            self._voice = None
        return out
