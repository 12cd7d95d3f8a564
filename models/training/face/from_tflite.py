"""Rebuild a released face ``.tflite`` as a Keras model (see ``models.training.tflite_weights``).

``build_model(folded=True)`` has the form TFLite stores (BatchNorm folded into conv biases), so
the weights copy across layer by layer; ``load`` then runs both on real faces and refuses a
mismatch. The file may average the face with its mirror image (as two calls on shared weights
up to version 5, as one batch of two after), and the rebuilt model is the single pass.
int8-weight files are read through their per-channel scales.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from models.training import tflite_weights as tfw
from models.training.face import data
from models.training.face.model import STEM_CHANNELS, build_model

# TFLite kernel layouts -> Keras: conv [out, h, w, in] -> [h, w, in, out]; depthwise
# [1, h, w, channels] -> [h, w, channels, 1]; fully connected [out, in] -> [in, out].
_TO_KERAS = {
    "CONV_2D": (1, 2, 3, 0),
    "DEPTHWISE_CONV_2D": (1, 2, 3, 0),
    "FULLY_CONNECTED": (1, 0),
}


def _kernel_to_keras(weights: tfw.WeightedLayer) -> np.ndarray:
    return weights.kernel.transpose(_TO_KERAS[weights.op])


def load(path: Path, probe: np.ndarray) -> list[keras.Model]:
    """Each network inside ``path`` as a Keras model (single pass, no flip averaging).

    An ensemble file (version 3 on) holds its networks one after the other; each network's
    width and fine stem are read from its first layers (see ``_build_for``). ``probe``: real
    faces, uint8 ``(N, 48, 48)``, to check the networks' average against the file. Raises
    ``ValueError`` when the layers do not line up or the outputs differ.
    """
    interpreter = tfw.open_interpreter(str(path))
    models = tfw.rebuild_networks(
        tfw.weighted_layers(interpreter), _build_for, _kernel_to_keras, str(path)
    )
    faces = probe[..., None].astype(np.float32) / 255.0
    views = [faces, faces[:, :, ::-1]] if _is_flip_averaged(interpreter) else [faces]
    got = np.mean([m.predict(v, verbose=0) for m in models for v in views], axis=0)
    tfw.check_against_file(interpreter, str(path), faces, got)
    return models


def _build_for(_: int, rest: list[tfw.WeightedLayer]) -> keras.Model:
    """The folded network whose first layers are ``rest``'s.

    Every block starts with a depthwise conv, so two plain convs in a row mean a fine stem
    (``--fine-stem``) before the strided stem; the strided stem's channel count gives the width.
    """
    fine_stem = rest[0].kernel.shape[0] if rest[1].op == "CONV_2D" else 0
    stem = rest[1] if fine_stem else rest[0]
    return build_model(
        len(data.LABELS),
        width=stem.kernel.shape[0] / STEM_CHANNELS,
        fine_stem=fine_stem,
        folded=True,
    )


def _is_flip_averaged(interpreter: Interpreter) -> bool:
    """A graph that mirrors its input averages the face with its mirror image."""
    return any(op["op_name"] == "REVERSE_V2" for op in interpreter._get_ops_details())
