"""Rebuild a released face ``.tflite`` as a Keras model (see ``models.training.tflite_weights``).

``build_model(folded=True)`` has the form TFLite stores (BatchNorm folded into conv biases), so
the weights copy across layer by layer; ``load`` then runs both on real faces and refuses a
mismatch. The file may average the face with its mirror image: that graph runs the network twice
on shared weights, and the rebuilt model is the single pass.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from models.training import tflite_weights as tfw
from models.training.face import data
from models.training.face.model import build_model

# TFLite kernel layouts -> Keras: conv [out, h, w, in] -> [h, w, in, out]; depthwise
# [1, h, w, channels] -> [h, w, channels, 1]; fully connected [out, in] -> [in, out].
_TO_KERAS = {
    "CONV_2D": (1, 2, 3, 0),
    "DEPTHWISE_CONV_2D": (1, 2, 3, 0),
    "FULLY_CONNECTED": (1, 0),
}


def _kernel_to_keras(weights: tfw.WeightedLayer) -> np.ndarray:
    return weights.kernel.transpose(_TO_KERAS[weights.op])


def load(path: Path, probe: np.ndarray, width: float = 1.0, fine_stem: int = 0) -> keras.Model:
    """The network inside ``path`` as a Keras model (single pass, no flip averaging).

    ``probe``: real faces, uint8 ``(N, 48, 48)``, to check the rebuilt model against the file.
    Raises ``ValueError`` when the layers do not line up or the outputs differ.
    """
    interpreter = tfw.open_interpreter(str(path))
    model = build_model(len(data.LABELS), width=width, fine_stem=fine_stem, folded=True)
    tfw.copy_weights(tfw.weighted_layers(interpreter), model, _kernel_to_keras, str(path))
    faces = probe[..., None].astype(np.float32) / 255.0
    got = model.predict(faces, verbose=0)
    if _is_flip_averaged(interpreter):
        got = (got + model.predict(faces[:, :, ::-1], verbose=0)) / 2
    tfw.check_equal(str(path), tfw.file_outputs(interpreter, faces, len(data.LABELS)), got)
    return model


def _is_flip_averaged(interpreter: Interpreter) -> bool:
    """A graph that mirrors its input averages the face with its mirror image."""
    return any(op["op_name"] == "REVERSE_V2" for op in interpreter._get_ops_details())
