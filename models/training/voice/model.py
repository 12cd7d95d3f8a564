"""Small log-mel CNN for speech emotion, and the derived arousal/valence head."""

from __future__ import annotations

import keras
from keras import layers, ops

from models.training.voice.data import LABELS, av_table
from models.training.voice.features import N_MELS, VIEWS, WINDOW_FRAMES

# (channels, kernel frames, pool after the block); 4 blocks -> 8x time reduction.
BLOCKS: tuple[tuple[int, int, bool], ...] = (
    (96, 5, True),
    (128, 5, True),
    (160, 3, True),
    (192, 3, False),
)


def _conv_block(
    x: keras.KerasTensor, channels: int, kernel: int, pool: bool, folded: bool
) -> keras.KerasTensor:
    """Conv1D over time + BN + ReLU (+ max-pool by 2 in time); ``folded``: BN in the bias."""
    x = layers.Conv1D(channels, kernel, padding="same", use_bias=folded)(x)
    if not folded:
        x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    if pool:
        x = layers.MaxPooling1D(2)(x)
    return x


def build_classifier(
    dropout: float = 0.3,
    width: float = 1.0,
    name: str = "voice_emotion",
    folded: bool = False,
    view: str = "scalar",
) -> keras.Model:
    """Log-mel window (250, 64, 1) -> softmax over ``LABELS``.

    A 1-D CNN over time with the 64 mel bands as input channels: dense convolutions run ~15x
    faster than 2-D depthwise-separable ones on CPU (training here and XNNPACK on the Pi).
    ``width`` scales every block's channels (parameters and cost grow with its square).
    ``folded`` builds the inference form TFLite stores: BatchNorm folded into conv biases.
    ``view``: what the first convolution sees (``features.VIEWS``).
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, not {view!r}")
    inputs = keras.Input((WINDOW_FRAMES, N_MELS, 1), name="log_mel")
    x = layers.Reshape((WINDOW_FRAMES, N_MELS))(inputs)
    if view == "band":  # the device computes one feature variant: the view lives in the graph
        x = x - ops.mean(x, axis=1, keepdims=True)
    for channels, kernel, pool in BLOCKS:
        x = _conv_block(x, round(channels * width), kernel, pool, folded)
    # Average + max pooling over time: emotion cues are often short bursts inside a window.
    pooled = [layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)]
    # Named: the speaker-adversarial head (training only) attaches here.
    x = layers.Concatenate(name="embedding")(pooled)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(len(LABELS), activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def build_export_model(classifier: keras.Model) -> keras.Model:
    """Wrap the classifier with the fixed arousal/valence head for export (two outputs)."""
    inputs = keras.Input((WINDOW_FRAMES, N_MELS, 1), name="log_mel")
    probs = classifier(inputs)
    av_layer = layers.Dense(2, use_bias=False, trainable=False, name="arousal_valence")
    av = av_layer(probs)
    av_layer.set_weights([av_table()])
    return keras.Model(inputs, [probs, av], name="voice_emotion_export")
