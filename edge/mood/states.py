"""CX-level states derived from valence and arousal, with the thresholds written down.

    positive    valence >= +0.25
    frustrated  valence <= -0.20 and arousal >= +0.20   (negative and activated)
    upset       valence <= -0.20 and arousal <  +0.20   (negative and subdued)
    calm        anything else
    unknown     confidence below the minimum, or nothing to go on

The sustained part ("frustrated for 20 s") is the smoother's hysteresis and the alert rule's
hold time, not this table.
"""

from edge.config.mood import StateThresholds
from edge.events.base import MoodState


def cx_state(
    valence: float, arousal: float, confidence: float, thresholds: StateThresholds
) -> MoodState:
    """The CX state for one smoothed estimate."""
    if confidence < thresholds.min_confidence:
        return "unknown"
    if valence >= thresholds.positive_valence:
        return "positive"
    if valence <= thresholds.negative_valence:
        return "frustrated" if arousal >= thresholds.activated_arousal else "upset"
    return "calm"


def negative_intensity(valence: float) -> float:
    """How negative, in [0, 1]: what alerts compare with the site's baseline."""
    return min(1.0, max(0.0, -valence))
