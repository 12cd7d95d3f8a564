"""From a classifier's probabilities to `EmotionScores`: one rule for voice and face.

Valence and arousal are derived from the probabilities with the circumplex table in
`edge.labels` (documented there); confidence is 1 minus the normalised entropy of the
distribution: 0 for a uniform guess, 1 for a certain one.
"""

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.labels import valence_arousal
from edge.types import EmotionScores


def confidence_of(probabilities: Sequence[float]) -> float:
    """1 - H(p) / log(K), clipped to [0, 1]."""
    k = len(probabilities)
    if k < 2:
        return 1.0
    entropy = -sum(p * math.log(p) for p in probabilities if p > 0)
    return min(1.0, max(0.0, 1.0 - entropy / math.log(k)))


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
