"""The engine end to end on scripted readings: consent, scoring, peak-end, alerts."""

from edge.config.mood import AlertRule, EngineConfig, SmoothingConfig
from edge.consent.gate import ConsentGate
from edge.mood.baseline import BaselineSketch
from edge.mood.engine import (
    AlertUpdate,
    InteractionEnded,
    InteractionStarted,
    MoodEngine,
    MoodUpdate,
    Output,
)
from edge.types import FaceBox, FaceReading, VoiceReading
from tests.test_mood_engine import scores

STEP_S = 0.5


def face(
    label: str, track: str = "A", x: int = 100, size: int = 200, mouth: float = 0.0
) -> FaceReading:
    return FaceReading(0, track, FaceBox(x, 100, size, size, 0.95), scores(label), None, mouth)


def engine(mode: str = "opt_in") -> MoodEngine:
    config = EngineConfig(
        smoothing=SmoothingConfig(tau_s=1.0, warmup_s=1.0, hold_s=1.5),
        alert=AlertRule(hold_s=5, update_every_s=5, clear_s=3),
    )
    gate = ConsentGate(mode=mode)  # type: ignore[arg-type]
    gate.start(0.0)
    return MoodEngine(gate, config, BaselineSketch())


def play(eng: MoodEngine, script: list[list[FaceReading]], start_s: float = 0.0) -> list[Output]:
    out: list[Output] = []
    for i, faces in enumerate(script):
        out += eng.step(start_s + i * STEP_S, faces, [])
    return out


def test_a_scripted_interaction_gives_one_alert_and_a_peak_end_summary() -> None:
    """neutral -> angry -> happy: one alert in the angry part, peak angry, end happy."""
    eng = engine()
    out = eng.grant("kiosk", 0.0)
    script = [[face("neutral")]] * 10 + [[face("angry")]] * 40 + [[face("happy")]] * 30 + [[]] * 12
    out += play(eng, script)
    started = [o for o in out if isinstance(o, InteractionStarted)]
    ended = [o for o in out if isinstance(o, InteractionEnded)]
    alerts = [o.event.phase for o in out if isinstance(o, AlertUpdate)]
    assert len(started) == 1 and len(ended) == 1 and ended[0].reason == "left"
    assert alerts[0] == "new" and alerts[-1] == "end" and alerts.count("new") == 1
    summary = ended[0].summary
    assert summary.peak_negative is not None and summary.peak_negative.state == "frustrated"
    assert summary.end is not None and summary.end.state == "positive"
    moods = [o for o in out if isinstance(o, MoodUpdate)]
    assert 30 <= len(moods) <= 45  # one per second while active


def test_nothing_is_scored_before_consent() -> None:
    """Faces in front of a kiosk without consent start nothing and produce nothing."""
    eng = engine()
    out = play(eng, [[face("angry")]] * 20)
    assert out == []


def test_withdrawal_ends_the_interaction_with_its_summary_and_clears_state() -> None:
    """The customer can stop at any moment; the backend still learns the interaction ended."""
    eng = engine()
    eng.grant("kiosk", 0.0)
    play(eng, [[face("angry")]] * 30)
    out = eng.withdraw("kiosk", 15.0)
    ended = [o for o in out if isinstance(o, InteractionEnded)]
    assert ended and ended[0].reason == "withdrawn"
    assert [o for o in out if isinstance(o, AlertUpdate)][-1].event.phase == "end"
    assert eng.gate.state == "none"
    assert play(eng, [[face("angry")]] * 10, start_s=16.0) == []


def _voice_weights(mouths: dict[str, float]) -> list[float]:
    eng = engine()
    eng.grant("kiosk", 0.0)
    angry_voice = VoiceReading(0, 2.5, True, scores("angry"))
    out: list[Output] = []
    for i in range(30):
        faces = [face("neutral", "A", mouth=mouths["A"])]
        if "B" in mouths:
            faces.append(face("neutral", "B", x=400, size=120, mouth=mouths["B"]))
        out += eng.step(i * STEP_S, faces, [angry_voice])
    return [o.mood.voice_weight for o in out if isinstance(o, MoodUpdate)]


def test_voice_of_a_bystander_is_not_attributed_to_the_customer() -> None:
    """With two faces, speech counts only when the customer's mouth is the one moving."""
    assert all(w == 0 for w in _voice_weights({"A": 0.0, "B": 0.1}))
    assert all(w > 0 for w in _voice_weights({"A": 0.1, "B": 0.0}))
    assert all(w > 0 for w in _voice_weights({"A": 0.0}))  # alone: the voice is theirs


def test_the_customer_is_kept_when_the_tracker_swaps_ids_at_a_crossing() -> None:
    """A passer-by taking over the customer's track id must not end or hijack the visit."""
    eng = engine()
    eng.grant("kiosk", 0.0)
    out: list[Output] = []
    script = [[face("angry", "A")]] * 20
    script += [[face("angry", "A"), face("happy", "B", x=330, size=120)]] * 4
    # The tracker now swaps: the customer's face comes back as "B", the passer-by as "A".
    script += [
        [face("angry", "B"), face("happy", "A", x=400 + 10 * i, size=120)] for i in range(20)
    ]
    out += play(eng, script)
    assert not [o for o in out if isinstance(o, InteractionEnded)]
    moods = [o.mood for o in out if isinstance(o, MoodUpdate)]
    assert {m.state for m in moods[-5:]} == {"frustrated"}


def test_the_site_baseline_learns_an_interaction_only_after_it_ends() -> None:
    """A long frustration must not raise its own alert threshold while it lasts."""
    eng = engine()
    prior = list(eng.baseline.counts)
    eng.grant("kiosk", 0.0)
    play(eng, [[face("angry")]] * 40)
    assert eng.baseline.counts == prior
    play(eng, [[]] * 14, start_s=20.0)  # the customer leaves
    assert eng.gate.state == "none"
    learned = eng.baseline.counts
    negative = len(prior) * 3 // 10  # bins above intensity 0.3
    assert sum(learned) > sum(prior) and sum(learned[negative:]) > sum(prior[negative:]) + 10


def test_a_withdrawn_interaction_teaches_the_baseline_nothing() -> None:
    """Withdrawal means the customer's moments are not used, not even as statistics."""
    eng = engine()
    prior = list(eng.baseline.counts)
    eng.grant("kiosk", 0.0)
    play(eng, [[face("angry")]] * 40)
    eng.withdraw("kiosk", 20.0)
    assert eng.baseline.counts == prior
