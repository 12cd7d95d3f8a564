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

from models.training.face import data
from models.training.face.model import build_model
from models.training.tflite_weights import check_equal, open_interpreter, weighted_layers

# TFLite kernel layouts -> Keras: conv [out, h, w, in] -> [h, w, in, out]; depthwise
# [1, h, w, channels] -> [h, w, channels, 1]; fully connected [out, in] -> [in, out].
_TO_KERAS = {
    "CONV_2D": (1, 2, 3, 0),
    "DEPTHWISE_CONV_2D": (1, 2, 3, 0),
    "FULLY_CONNECTED": (1, 0),
}


def _probe_faces(count: int = 64) -> np.ndarray:
    """Real validation-split faces in [0, 1] for the equivalence check."""
    _, val = data.train_val_split(data.load_split("train"), 0.1, 1234)
    return val.images[:count, ..., None].astype(np.float32) / 255.0


def load(path: Path, width: float = 1.0, fine_stem: int = 0) -> keras.Model:
    """The network inside ``path`` as a Keras model (single pass, no flip averaging).

    Raises ``ValueError`` when the layers do not line up or the outputs differ.
    """
    interpreter = open_interpreter(str(path))
    source = weighted_layers(interpreter)
    model = build_model(len(data.LABELS), width=width, fine_stem=fine_stem, folded=True)
    targets = [layer for layer in model.layers if layer.weights]
    if len(targets) != len(source):
        raise ValueError(
            f"{path}: {len(source)} weighted layers, the architecture has {len(targets)}"
        )
    for layer, weights in zip(targets, source, strict=True):
        layer.set_weights([weights.kernel.transpose(_TO_KERAS[weights.op]), weights.bias])
    faces = _probe_faces()
    expected = np.concatenate([_run(interpreter, face[None]) for face in faces])
    got = model.predict(faces, verbose=0)
    if _is_flip_averaged(interpreter):
        got = (got + model.predict(faces[:, :, ::-1], verbose=0)) / 2
    check_equal(str(path), expected, got)
    return model


def _run(interpreter: Interpreter, image: np.ndarray) -> np.ndarray:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def _is_flip_averaged(interpreter: Interpreter) -> bool:
    """A graph that mirrors its input averages the face with its mirror image."""
    return any(op["op_name"] == "REVERSE_V2" for op in interpreter._get_ops_details())
