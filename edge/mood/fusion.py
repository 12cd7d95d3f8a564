"""Confidence-weighted late fusion of one voice and one face estimate.

Each modality's weight is its confidence times a prior (face carries valence better than
voice, so its prior is higher); an absent or unscored modality simply has weight 0.
"""

from dataclasses import dataclass

from edge.config.mood import FusionWeights
from edge.labels import CATEGORIES
from edge.types import EmotionScores


@dataclass(frozen=True, slots=True)
class FusedEstimate:
    """The fused scores and how much each modality contributed (weights sum to 1)."""

    scores: EmotionScores
    voice_weight: float
    face_weight: float


def _weight(scores: EmotionScores | None, prior: float) -> float:
    return 0.0 if scores is None else max(0.0, scores.confidence) * prior


def fuse(
    voice: EmotionScores | None, face: EmotionScores | None, priors: FusionWeights
) -> FusedEstimate | None:
    """Fuse what is there; None when neither modality has a usable estimate."""
    w_voice, w_face = _weight(voice, priors.voice), _weight(face, priors.face)
    total = w_voice + w_face
    if total <= 0:
        return None
    parts = [(s, w / total) for s, w in ((voice, w_voice), (face, w_face)) if s is not None and w]
    probabilities = dict.fromkeys(CATEGORIES, 0.0)
    for scores, weight in parts:
        mass = sum(scores.probabilities.get(c, 0.0) for c in CATEGORIES) or 1.0
        for category in CATEGORIES:
            # A model without some category says nothing about it: renormalise over its own.
            probabilities[category] += weight * scores.probabilities.get(category, 0.0) / mass
    fused = EmotionScores(
        probabilities=probabilities,
        valence=sum(s.valence * w for s, w in parts),
        arousal=sum(s.arousal * w for s, w in parts),
        confidence=sum(s.confidence * w for s, w in parts),
    )
    return FusedEstimate(fused, voice_weight=w_voice / total, face_weight=w_face / total)
