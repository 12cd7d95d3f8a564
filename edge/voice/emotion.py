"""Voice-emotion scoring of one speech window with the on-device TFLite model.

Features are `edge.voice.features.extract_windows` (2.5 s log-mel windows); an utterance
longer than one window is scored as the mean of its windows' probabilities, exactly as the
model was evaluated. Valence and arousal are derived from the probabilities with the shared
circumplex rule of `edge.labels` (probability above chance), as for faces; the model's own
second output (the plain expectation over the same table) is not read.
"""

import numpy as np

from edge.inference.registry import ModelError, ModelSpec
from edge.inference.runtime import TfliteModel
from edge.scoring import scores_from_probabilities
from edge.types import EmotionScores, FloatArray
from edge.voice.features import extract_windows


class VoiceEmotionModel:
    """Pure stage: 16 kHz speech samples -> `EmotionScores` over the manifest's labels."""

    def __init__(self, spec: ModelSpec, model: TfliteModel) -> None:
        self._labels = spec.labels
        self._model = model
        widths = [s.shape[-1] for s in model.outputs]
        if len(spec.labels) not in widths:
            raise ModelError(f"{spec.path}: no output has one value per label ({widths})")
        # Outputs are found by width, not name: the converter's names are meaningless.
        self._probabilities_index = widths.index(len(spec.labels))

    def probabilities(self, samples: FloatArray) -> FloatArray:
        """Mean class probabilities over the utterance's windows, in label order."""
        windows = extract_windows(samples)
        outputs = [
            self._model.run(window[np.newaxis, :, :, np.newaxis])[self._probabilities_index]
            for window in windows
        ]
        return np.asarray(np.mean(np.concatenate(outputs, axis=0), axis=0), dtype=np.float32)

    def score(self, samples: FloatArray) -> EmotionScores:
        """Scores for one speech window (or a whole utterance)."""
        return scores_from_probabilities(self.probabilities(samples), self._labels)
