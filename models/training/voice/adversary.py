"""Speaker-adversarial training: a speaker head behind a gradient-reversal layer.

The voice model fails on Polish speakers it never heard ("sad" takes 42 % of the nEMO test
answers) while it does well on the validation speaker. The hypothesis tested here: it leans on
who is speaking. A second head learns to name the training speaker from the pooled embedding,
and the reversed gradient pushes the embedding to hide it (domain-adversarial training, Ganin
et al. 2016; for speaker-invariant emotion recognition, Li et al., ICASSP 2020). The head is
for training only: ``best.weights.h5`` and the export hold the emotion classifier alone.
At peak 0.3 it lost on validation and did not move the "sad" share (model card, "Assessment").
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers

from models.training.voice.data import Clip

# Name of the classifier's pooled embedding layer, where the speaker head attaches.
EMBEDDING_LAYER = "embedding"
# Name of the reversal layer in the training model, whose strength the ramp sets.
REVERSAL_LAYER = "gradient_reversal"


@keras.saving.register_keras_serializable(package="moodsense")
class GradientReversal(layers.Layer):
    """Identity forward; backward, the gradient times ``-strength`` (set per epoch)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.strength = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="strength"
        )

    def call(self, x: Any) -> Any:
        # Forward: -s*x + (1+s)*x = x. Backward: only the first term has a gradient, -s.
        s = keras.ops.cast(self.strength, x.dtype)
        return -s * x + keras.ops.stop_gradient((1.0 + s) * x)


def with_speaker_adversary(classifier: keras.Model, n_speakers: int) -> keras.Model:
    """Training model: the classifier's emotion output plus a reversed-gradient speaker head."""
    embedding = classifier.get_layer(EMBEDDING_LAYER).output
    x = GradientReversal(name=REVERSAL_LAYER)(embedding)
    x = layers.Dense(128, activation="relu", name="speaker_hidden")(x)
    speaker = layers.Dense(n_speakers, activation="softmax", name="speaker")(x)
    return keras.Model(classifier.inputs, [classifier.outputs[0], speaker], name="adversarial")


def emotion_classifier(trainer: keras.Model) -> keras.Model:
    """The emotion classifier inside a training model (shares its layers and weights)."""
    if len(trainer.outputs) == 1:
        return trainer
    return keras.Model(trainer.inputs, trainer.outputs[0], name="voice_emotion")


def ramp(epoch: int, epochs: int, peak: float) -> float:
    """DANN schedule: the reversal grows from 0 to ``peak`` while the features form."""
    progress = epoch / max(epochs, 1)
    return peak * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)


def make_ramp_callback(epochs: int, peak: float) -> Any:
    """Keras callback that sets the reversal strength at the start of every epoch."""
    callback_base: Any = keras.callbacks.Callback

    class _Ramp(callback_base):
        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.model.get_layer(REVERSAL_LAYER).strength.assign(ramp(epoch, epochs, peak))

    return _Ramp()


def speaker_indices(clips: list[Clip], ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Each listed clip's speaker as an index into the sorted training speakers, and their count."""
    speakers = sorted({clips[int(i)].speaker for i in ids})
    index = {name: k for k, name in enumerate(speakers)}
    return np.array([index[clips[int(i)].speaker] for i in ids], dtype=np.int64), len(speakers)
