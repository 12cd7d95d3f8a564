"""The mood engine's pure stages: fusion, smoothing, peak-end summaries, baseline, alerts."""

from pathlib import Path

import pytest

from edge.config.mood import AlertRule, FusionWeights, SmoothingConfig, StateThresholds
from edge.labels import valence_arousal
from edge.mood.alerts import AlertEngine
from edge.mood.baseline import BaselineSketch
from edge.mood.fusion import fuse
from edge.mood.interaction import InteractionRecorder
from edge.mood.smoothing import MoodSmoother, SmoothedMood
from edge.types import EmotionScores


def scores(label: str, confidence: float = 0.9, spread: float = 0.1) -> EmotionScores:
    """An estimate dominated by `label`, with valence/arousal derived the documented way."""
    others = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
    probabilities = {c: spread / 6 for c in others}
    probabilities[label] = 1 - spread
    valence, arousal = valence_arousal(probabilities)
    return EmotionScores(probabilities, valence, arousal, confidence)


def smoother() -> MoodSmoother:
    return MoodSmoother(SmoothingConfig(tau_s=1.0, warmup_s=1.0, hold_s=2.0), StateThresholds())


def run(engine: MoodSmoother, labels: list[str], start_s: float = 0.0) -> list[SmoothedMood]:
    """Feed one fused face-only estimate per 0.5 s."""
    out = []
    for i, label in enumerate(labels):
        fused = fuse(None, scores(label), FusionWeights())
        mood = engine.process(fused, start_s + 0.5 * i)
        assert mood is not None
        out.append(mood)
    return out


def test_an_absent_modality_drops_out_of_the_fusion() -> None:
    """A covered camera or silent customer must not drag the estimate to neutral."""
    fused = fuse(scores("angry"), None, FusionWeights())
    assert fused is not None and (fused.voice_weight, fused.face_weight) == (1.0, 0.0)
    assert fused.scores.probabilities["angry"] == pytest.approx(0.9)
    assert fuse(None, None, FusionWeights()) is None


def test_the_more_confident_modality_weighs_more() -> None:
    """A blurry face should not outvote clear speech."""
    fused = fuse(scores("angry", 0.9), scores("happy", 0.1), FusionWeights(voice=0.5, face=0.5))
    assert fused is not None and fused.voice_weight == pytest.approx(0.9)
    assert fused.scores.valence < 0


def test_a_single_odd_frame_never_flips_the_state() -> None:
    """Staff act on states; flicker would make alerts meaningless."""
    moods = run(smoother(), ["angry"] * 10 + ["happy"] + ["angry"] * 4)
    assert moods[0].state == "unknown"  # warm-up
    assert {m.state for m in moods[4:]} == {"frustrated"}


def test_a_sustained_change_is_adopted_after_the_hold_time() -> None:
    """Real changes must still come through within seconds."""
    moods = run(smoother(), ["angry"] * 10 + ["happy"] * 14)
    assert moods[-1].state == "positive"
    switched = next(i for i, m in enumerate(moods) if m.state == "positive")
    assert 10 + 4 <= switched <= 10 + 12  # hold 2 s at 2 readings/s, plus smoothing lag


def test_peak_end_summary_keeps_the_worst_moment_and_the_end() -> None:
    """Peak-end rule: what is remembered is the peak and the end."""
    recorder = InteractionRecorder(sample_period_s=0.5)
    recorder.start(0.0)
    for mood in run(smoother(), ["angry"] * 20 + ["neutral"] * 10 + ["happy"] * 20):
        recorder.add(mood)
    summary = recorder.summary(25.0)
    assert summary.peak_negative is not None and summary.peak_negative.state == "frustrated"
    assert summary.peak_negative.t_rel_s < 10
    assert summary.end is not None and summary.end.state == "positive"
    assert summary.trajectory == "improving"
    assert summary.duration_s == 25.0


def test_the_baseline_prior_and_its_adaptation_to_a_site(tmp_path: Path) -> None:
    """'Normal' is per site: a tense site must raise its own threshold."""
    sketch = BaselineSketch(half_life_samples=500)
    assert sketch.quantile(0.9) == pytest.approx(0.35, abs=0.03)
    for i in range(2000):
        sketch.add(0.4 + 0.2 * (i % 10) / 10)
    assert sketch.quantile(0.9) > 0.55
    sketch.save(tmp_path / "baseline.json")
    assert BaselineSketch.load(tmp_path / "baseline.json").quantile(0.9) == sketch.quantile(0.9)


def test_an_unreadable_baseline_falls_back_to_the_prior(tmp_path: Path) -> None:
    """A damaged file after a power cut must not disable alerts."""
    (tmp_path / "baseline.json").write_text('{"format": "moodsense-baseline/1", "counts": [1')
    assert BaselineSketch.load(tmp_path / "baseline.json").quantile(0.9) == pytest.approx(
        BaselineSketch().quantile(0.9)
    )


def _alerts(engine: AlertEngine, labels: list[str]) -> list[tuple[float, str]]:
    events = []
    for mood in run(smoother(), labels):
        event = engine.process(mood)
        if event is not None:
            events.append((mood.t_mono_s, event.phase))
    return events


def test_sustained_frustration_raises_updates_and_ends_an_alert() -> None:
    """Get a human there fast, but only for real, sustained frustration."""
    engine = AlertEngine(AlertRule(hold_s=5, update_every_s=5, clear_s=3), BaselineSketch())
    events = _alerts(engine, ["neutral"] * 6 + ["angry"] * 40 + ["happy"] * 30)
    phases = [phase for _t, phase in events]
    assert phases[0] == "new" and phases[-1] == "end" and "update" in phases
    assert events[0][0] >= 3.0 + 5.0  # not before the hold time


def test_an_acknowledgement_appears_in_the_next_update() -> None:
    """The tablet must see that a colleague is already on the way."""
    rule = AlertRule(hold_s=2, update_every_s=2)
    engine = AlertEngine(rule, BaselineSketch())
    moods = run(smoother(), ["angry"] * 30)
    new = next(e for e in map(engine.process, moods[:15]) if e is not None)
    assert engine.acknowledge(new.alert_id, "tablet", wall_s=1_795_000_000.0)
    update = next(e for e in map(engine.process, moods[15:]) if e is not None)
    assert update.phase == "update" and update.acknowledged is not None
    assert update.acknowledged.via == "tablet"


def test_the_same_customer_alerts_on_a_calm_site_but_not_on_a_tense_one() -> None:
    """Alerts follow the site's calibrated baseline, not a global threshold."""
    tense = BaselineSketch(half_life_samples=500)
    for _ in range(2000):
        tense.add(0.85)
    trace = ["neutral"] * 6 + ["angry"] * 40
    assert _alerts(AlertEngine(AlertRule(hold_s=5), BaselineSketch()), trace)
    assert _alerts(AlertEngine(AlertRule(hold_s=5), tense), trace) == []
