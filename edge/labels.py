"""Canonical emotion labels and how categories map to valence and arousal.

Models output probabilities over (a subset of) `CATEGORIES`; valence and arousal are derived
from those probabilities with the table below unless a model regresses them itself.
"""

from collections.abc import Mapping

CATEGORIES: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
)

# Approximate positions on Russell's circumplex (valence, arousal), each in [-1, 1]: the
# usual placement in affective-computing work, coarse on purpose. Voice and face both use it
# through `valence_arousal`; the voice model's graph holds the same table as a plain
# expectation (its second output), which the device does not read.
CIRCUMPLEX: Mapping[str, tuple[float, float]] = {
    "neutral": (0.0, -0.4),
    "happy": (0.8, 0.6),
    "sad": (-0.7, -0.6),
    "angry": (-0.6, 0.8),
    "fearful": (-0.6, 0.7),
    "disgusted": (-0.7, 0.3),
    "surprised": (0.3, 0.7),
}

# Other spellings seen in data sets and evaluation manifests -> canonical label.
SYNONYMS: Mapping[str, str] = {
    "anger": "angry",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "fear": "fearful",
    "disgust": "disgusted",
    "surprise": "surprised",
    "calm": "neutral",
}


def canonical(label: str) -> str | None:
    """The canonical category for `label` (case-insensitive), or None if it has none."""
    key = label.strip().lower()
    if key in CIRCUMPLEX:
        return key
    return SYNONYMS.get(key)


def valence_arousal(probabilities: Mapping[str, float]) -> tuple[float, float]:
    """Circumplex position weighted by each category's probability *above chance*.

    A plain expectation is biased: four of the six non-neutral categories are negative, so
    any uncertain distribution lands at negative valence (an unsure "neutral" face read as
    valence -0.25). Weighting by max(0, p - 1/K) lets only the categories the model actually
    favours speak; a uniform guess sits at the origin.
    """
    known = {k: p for k, p in probabilities.items() if k in CIRCUMPLEX}
    if not known:
        return 0.0, 0.0
    chance = 1.0 / len(known)
    weights = {k: max(0.0, p - chance) for k, p in known.items()}
    total = sum(weights.values())
    if total <= 0:
        return 0.0, 0.0
    valence = sum(CIRCUMPLEX[k][0] * w for k, w in weights.items()) / total
    arousal = sum(CIRCUMPLEX[k][1] * w for k, w in weights.items()) / total
    return valence, arousal
