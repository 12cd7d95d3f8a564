"""Shared scoring rules and the face crop geometry."""

import numpy as np
import pytest

from edge.face.expression import face_crop
from edge.labels import CATEGORIES
from edge.scoring import confidence_of, scores_from_probabilities
from edge.types import FaceBox


def test_confidence_is_zero_for_a_uniform_guess_and_one_for_certainty() -> None:
    """A model that does not know must not outweigh one that does in fusion."""
    assert confidence_of([1 / 7] * 7) == pytest.approx(0.0)
    assert confidence_of([1.0] + [0.0] * 6) == pytest.approx(1.0)


def test_scores_follow_the_documented_circumplex_mapping() -> None:
    """Valence/arousal are derived, and the derivation must match the docs."""
    angry = np.array([0, 0, 0, 1, 0, 0, 0], np.float32)
    scores = scores_from_probabilities(angry, CATEGORIES)
    assert (scores.valence, scores.arousal) == pytest.approx((-0.6, 0.8))
    assert sum(scores.probabilities.values()) == pytest.approx(1.0)


def test_a_face_at_the_frame_edge_is_padded_not_shifted() -> None:
    """Shifting the crop would cut the face off-centre and change the expression read."""
    image = np.zeros((100, 100, 3), np.uint8)
    image[0:20, 0:20] = 255  # the face sits in the top-left corner
    crop = face_crop(image, FaceBox(0, 0, 20, 20, 0.9), size=48)
    assert crop.shape == (48, 48)
    assert crop.mean() > 200  # all face, replicated at the border, nothing from elsewhere
