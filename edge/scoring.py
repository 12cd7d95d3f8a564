"""From a classifier's probabilities to `EmotionScores`: one rule for voice and face.

Valence and arousal are derived from the probabilities with the circumplex table in
`edge.labels` (documented there); confidence is how far the top probability stands above
chance, rescaled: (p_max - 1/K) / (1 - 1/K), so 0 for a uniform guess and 1 for a certain one.
(Normalised entropy was tried first: it rates a clear 60 % vote at 0.29, which made most real
speech `unknown`.)
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.labels import valence_arousal
from edge.types import EmotionScores


def confidence_of(probabilities: Sequence[float]) -> float:
    """(p_max - 1/K) / (1 - 1/K), clipped to [0, 1]."""
    k = len(probabilities)
    if k < 2:
        return 1.0
    chance = 1.0 / k
    return min(1.0, max(0.0, (max(probabilities) - chance) / (1.0 - chance)))


def scores_from_probabilities(
    output: npt.NDArray[np.float32], labels: Sequence[str]
) -> EmotionScores:
    """`EmotionScores` from one softmax output in `labels` order (renormalised defensively)."""
    values = np.clip(np.asarray(output, dtype=np.float64).reshape(-1), 0.0, None)
    total = float(values.sum()) or 1.0
    probabilities = {label: float(v) / total for label, v in zip(labels, values, strict=True)}
    valence, arousal = valence_arousal(probabilities)
    return EmotionScores(
        probabilities=probabilities,
        valence=valence,
        arousal=arousal,
        confidence=confidence_of(list(probabilities.values())),
    )
