"""Batched, stateless tf augmentation for shop-camera conditions.

Every op works on a whole batch with per-sample random parameters drawn from stateless ops,
so an epoch's augmentation depends only on ``(seed, epoch, batch index)``: a resumed run sees
the same images as an uninterrupted one, and the CPU cost stays a few vector ops per batch.

``strength`` scales every range and probability below (1.0 = the constants as written, 0.5 =
half the rotation, shift, scale, lighting and noise ranges, half as many blurred, noisy and
erased faces); horizontal flips stay at p=0.5 at any strength.
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_ROTATION_DEG = 15.0
MAX_SHIFT_PX = 4.0
SCALE_RANGE = (0.9, 1.1)
BRIGHTNESS = 0.2
CONTRAST_RANGE = (0.7, 1.3)
GAMMA_RANGE = (0.7, 1.4)
BLUR_PROB = 0.2
NOISE_PROB = 0.3
NOISE_MAX_SIGMA = 0.04
ERASE_PROB = 0.25
ERASE_SIZE_PX = (8, 20)


def _uniform(seed: tf.Tensor, batch: tf.Tensor, low: float, high: float) -> tf.Tensor:
    """Per-sample uniform values shaped ``(B, 1)``."""
    return tf.random.stateless_uniform([batch, 1], seed=seed, minval=low, maxval=high)


def _bernoulli(seed: tf.Tensor, batch: tf.Tensor, prob: float) -> tf.Tensor:
    """Per-sample 0/1 float mask shaped ``(B, 1)``."""
    return tf.cast(_uniform(seed, batch, 0.0, 1.0) < prob, tf.float32)


def _around_one(bounds: tuple[float, float], strength: float) -> tuple[float, float]:
    """Shrink a multiplicative range around 1.0 by ``strength``."""
    return 1.0 + (bounds[0] - 1.0) * strength, 1.0 + (bounds[1] - 1.0) * strength


def _affine(images: tf.Tensor, seeds: tf.Tensor, strength: float) -> tf.Tensor:
    """Random rotation, scale, shift and horizontal flip in one resampling pass."""
    batch = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    max_angle, max_shift = MAX_ROTATION_DEG * strength, MAX_SHIFT_PX * strength
    angle = _uniform(seeds[0], batch, -max_angle, max_angle) * (math.pi / 180.0)
    scale = _uniform(seeds[1], batch, *_around_one(SCALE_RANGE, strength))
    shift_x = _uniform(seeds[2], batch, -max_shift, max_shift)
    shift_y = _uniform(seeds[3], batch, -max_shift, max_shift)
    flip = 1.0 - 2.0 * _bernoulli(seeds[4], batch, 0.5)
    # The op maps output pixels to input pixels, so build the inverse transform directly:
    # input = M (output - centre - shift) + centre with M = diag(flip/s, 1/s) R(-angle).
    cos, sin = tf.cos(angle), tf.sin(angle)
    m00, m01 = flip * cos / scale, flip * sin / scale
    m10, m11 = -sin / scale, cos / scale
    centre = (size - 1.0) / 2.0
    a2 = centre - m00 * (centre + shift_x) - m01 * (centre + shift_y)
    b2 = centre - m10 * (centre + shift_x) - m11 * (centre + shift_y)
    zeros = tf.zeros_like(angle)
    transforms = tf.concat([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def _photometric(images: tf.Tensor, seeds: tf.Tensor, strength: float) -> tf.Tensor:
    """Random brightness, contrast and gamma: shop lighting varies a lot."""
    batch = tf.shape(images)[0]
    max_brightness = BRIGHTNESS * strength
    brightness = tf.reshape(
        _uniform(seeds[0], batch, -max_brightness, max_brightness), [-1, 1, 1, 1]
    )
    contrast_range = _around_one(CONTRAST_RANGE, strength)
    contrast = tf.reshape(_uniform(seeds[1], batch, *contrast_range), [-1, 1, 1, 1])
    log_gamma = _uniform(
        seeds[2],
        batch,
        math.log(GAMMA_RANGE[0]) * strength,
        math.log(GAMMA_RANGE[1]) * strength,
    )
    gamma = tf.reshape(tf.exp(log_gamma), [-1, 1, 1, 1])
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    images = (images - mean) * contrast + mean + brightness
    # Clip before the power: gamma of a negative value is undefined.
    return tf.pow(tf.clip_by_value(images, 1e-4, 1.0), gamma)


def _blur(images: tf.Tensor, seed: tf.Tensor, strength: float) -> tf.Tensor:
    """3x3 Gaussian blur on a random subset, imitating defocus and motion softness."""
    kernel_1d = tf.constant([0.25, 0.5, 0.25])
    kernel = tf.reshape(tf.tensordot(kernel_1d, kernel_1d, axes=0), [3, 3, 1, 1])
    blurred = tf.nn.conv2d(images, kernel, strides=1, padding="SAME")
    mask = tf.reshape(_bernoulli(seed, tf.shape(images)[0], BLUR_PROB * strength), [-1, 1, 1, 1])
    return mask * blurred + (1.0 - mask) * images


def _noise(images: tf.Tensor, seeds: tf.Tensor, strength: float) -> tf.Tensor:
    """Gaussian sensor noise with a random strength on a random subset."""
    batch = tf.shape(images)[0]
    sigma = _uniform(seeds[0], batch, 0.0, NOISE_MAX_SIGMA * strength) * _bernoulli(
        seeds[1], batch, NOISE_PROB * strength
    )
    noise = tf.random.stateless_normal(tf.shape(images), seed=seeds[2])
    return images + noise * tf.reshape(sigma, [-1, 1, 1, 1])


def _erase(images: tf.Tensor, seeds: tf.Tensor, strength: float) -> tf.Tensor:
    """Random erasing: a grey rectangle stands in for hands, cups, hair or glare."""
    batch = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    height = _uniform(seeds[0], batch, *ERASE_SIZE_PX)
    width = _uniform(seeds[1], batch, *ERASE_SIZE_PX)
    top = _uniform(seeds[2], batch, 0.0, 1.0) * (size - height)
    left = _uniform(seeds[3], batch, 0.0, 1.0) * (size - width)
    fill = tf.reshape(_uniform(seeds[4], batch, 0.0, 1.0), [-1, 1, 1, 1])
    apply = _bernoulli(seeds[5], batch, ERASE_PROB * strength)
    coords = tf.range(size)
    rows = tf.cast((coords >= top) & (coords < top + height), tf.float32)  # (B, H)
    cols = tf.cast((coords >= left) & (coords < left + width), tf.float32)  # (B, W)
    mask = rows[:, :, None, None] * cols[:, None, :, None] * tf.reshape(apply, [-1, 1, 1, 1])
    return images * (1.0 - mask) + fill * mask


def augment_batch(images: tf.Tensor, seed: tf.Tensor, strength: float = 1.0) -> tf.Tensor:
    """Augment a float batch ``(B, 48, 48, 1)`` in [0, 1]; ``seed`` is an int ``(2,)`` tensor."""
    seeds = tf.random.experimental.stateless_split(seed, num=18)
    images = _affine(images, seeds[0:5], strength)
    images = _photometric(images, seeds[5:8], strength)
    images = _blur(images, seeds[8], strength)
    images = _noise(images, seeds[9:12], strength)
    images = _erase(images, seeds[12:18], strength)
    return tf.clip_by_value(images, 0.0, 1.0)
