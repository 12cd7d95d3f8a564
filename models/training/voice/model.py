"""Small log-mel CNN for speech emotion, and the derived arousal/valence head."""

from __future__ import annotations

import keras
from keras import layers

from models.training.voice.data import LABELS, av_table
from models.training.voice.features import N_MELS, WINDOW_FRAMES

BLOCK_CHANNELS: tuple[int, ...] = (48, 96, 160, 160)


def _sep_block(x: keras.KerasTensor, channels: int, pool: bool) -> keras.KerasTensor:
    """Depthwise-separable 3x3 conv + BN + ReLU (+ 2x2 max-pool): cheap on the Pi's CPU."""
    x = layers.SeparableConv2D(channels, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    if pool:
        x = layers.MaxPooling2D(2)(x)
    return x


def build_classifier(dropout: float = 0.3) -> keras.Model:
    """Log-mel window (250, 64, 1) -> softmax over ``LABELS``."""
    inputs = keras.Input((WINDOW_FRAMES, N_MELS, 1), name="log_mel")
    x = layers.Conv2D(24, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(2)(x)
    for i, channels in enumerate(BLOCK_CHANNELS):
        x = _sep_block(x, channels, pool=i < len(BLOCK_CHANNELS) - 1)
    # Average + max pooling: emotion cues are often short bursts inside a window.
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(len(LABELS), activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="voice_emotion")


def build_export_model(classifier: keras.Model) -> keras.Model:
    """Wrap the classifier with the fixed arousal/valence head for export (two outputs)."""
    inputs = keras.Input((WINDOW_FRAMES, N_MELS, 1), name="log_mel")
    probs = classifier(inputs)
    av_layer = layers.Dense(2, use_bias=False, trainable=False, name="arousal_valence")
    av = av_layer(probs)
    av_layer.set_weights([av_table()])
    return keras.Model(inputs, [probs, av], name="voice_emotion_export")
