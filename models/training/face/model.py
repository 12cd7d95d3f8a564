"""Small depthwise-separable CNN (MobileNet-style blocks with squeeze-excite) for 48x48 faces."""

from __future__ import annotations

import keras
from keras import layers

# (output channels at width 1.0, stride, squeeze-excite) per block.
BLOCKS: tuple[tuple[int, int, bool], ...] = (
    (64, 1, False),
    (128, 2, False),
    (128, 1, False),
    (256, 2, True),
    (256, 1, True),
    (256, 1, True),
    (384, 2, True),
    (384, 1, True),
)
STEM_CHANNELS = 32
# A strided stem runs every block at 24x24 or less: about 4x fewer MACs than a stride-1 stem,
# which is what makes training fit a 2-core CPU budget (and inference cheap on a Pi).
STEM_STRIDE = 2
# Optional stride-1 3x3 conv with few channels before the strided stem: it gives the net one
# nonlinear layer at the full 48x48 resolution (fine creases around eyes and mouth) for about
# 3 M extra multiply-accumulates, instead of the ~4x cost of running every block at 48x48.
FINE_STEM_CHANNELS_DEFAULT = 0
SE_RATIO = 0.125
WEIGHT_DECAY_SKIP = ("gamma", "beta", "bias")


def _channels(base: int, width: float) -> int:
    """Scale a channel count and round to a multiple of 8 (SIMD-friendly on ARM)."""
    return max(8, round(base * width / 8) * 8)


def _batch_norm(x: keras.KerasTensor, folded: bool, name: str) -> keras.KerasTensor:
    """BatchNorm, or nothing when it is folded into the preceding convolution's bias."""
    return x if folded else layers.BatchNormalization(name=name)(x)


def _conv_bn_relu(
    x: keras.KerasTensor, filters: int, kernel: int, stride: int, name: str, folded: bool
) -> keras.KerasTensor:
    """Plain convolution + BatchNorm + ReLU."""
    x = layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=folded, name=f"{name}_conv"
    )(x)
    x = _batch_norm(x, folded, f"{name}_bn")
    return layers.ReLU(name=f"{name}_relu")(x)


def _squeeze_excite(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
    """Channel attention; cheap at 12x12 and 6x6 and helps small FER nets."""
    channels = x.shape[-1]
    squeeze = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
    squeeze = layers.Conv2D(
        max(8, int(channels * SE_RATIO)), 1, activation="relu", name=f"{name}_se_reduce"
    )(squeeze)
    squeeze = layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}_se_expand")(squeeze)
    return layers.Multiply(name=f"{name}_se_scale")([x, squeeze])


def _separable_block(
    x: keras.KerasTensor, filters: int, stride: int, use_se: bool, name: str, folded: bool
) -> keras.KerasTensor:
    """Depthwise 3x3 + pointwise 1x1, each with BN+ReLU; residual when shapes match."""
    shortcut = x
    y = layers.DepthwiseConv2D(
        3, strides=stride, padding="same", use_bias=folded, name=f"{name}_dw"
    )(x)
    y = _batch_norm(y, folded, f"{name}_dw_bn")
    y = layers.ReLU(name=f"{name}_dw_relu")(y)
    y = layers.Conv2D(filters, 1, use_bias=folded, name=f"{name}_pw")(y)
    y = _batch_norm(y, folded, f"{name}_pw_bn")
    y = layers.ReLU(name=f"{name}_pw_relu")(y)
    if use_se:
        y = _squeeze_excite(y, name)
    if stride == 1 and shortcut.shape[-1] == filters:
        y = layers.Add(name=f"{name}_add")([shortcut, y])
    return y


def build_model(
    num_classes: int,
    width: float = 1.0,
    dropout: float = 0.3,
    fine_stem: int = FINE_STEM_CHANNELS_DEFAULT,
    folded: bool = False,
) -> keras.Model:
    """Build the classifier: input ``(48, 48, 1)`` float in [0, 1], output softmax probabilities.

    ``fine_stem`` > 0 adds a stride-1 3x3 conv with that many channels before the strided stem.
    ``folded`` builds the inference form TFLite stores: BatchNorm folded into conv biases.
    """
    inputs = keras.Input(shape=(48, 48, 1), name="image")
    x = inputs
    if fine_stem > 0:
        x = _conv_bn_relu(x, fine_stem, 3, 1, name="fine_stem", folded=folded)
    x = _conv_bn_relu(x, _channels(STEM_CHANNELS, width), 3, STEM_STRIDE, "stem", folded)
    for index, (base, stride, use_se) in enumerate(BLOCKS):
        x = _separable_block(
            x, _channels(base, width), stride, use_se, name=f"block{index}", folded=folded
        )
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    # float32 softmax keeps the loss stable if a mixed-precision policy is ever enabled.
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probs")(x)
    return keras.Model(inputs, outputs, name="moodsense_face")
