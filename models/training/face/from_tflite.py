"""Rebuild a shipped face ``.tflite`` as a Keras model, so a released model can join an ensemble.

Only the ``.tflite`` of a released model is kept (in git history); its training checkpoint lived
in a cache that a fresh machine does not have. TFLite stores the network in inference form:
BatchNorm folded into each convolution's bias, weights as float16. ``build_model(folded=True)``
has exactly that form, so the weights can be copied across layer by layer. ``load`` checks the
copy by running both on the same faces: a mapping mistake cannot pass silently.

The file may contain the network twice (flip averaging): the weights are shared, so each weight
tensor is taken once, in the order the graph first uses it.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from models.training.face import data
from models.training.face.model import build_model

# TFLite kernel layouts -> Keras: conv [out, h, w, in] -> [h, w, in, out]; depthwise
# [1, h, w, channels] -> [h, w, channels, 1]; fully connected [out, in] -> [in, out].
_TO_KERAS = {
    "CONV_2D": (1, 2, 3, 0),
    "DEPTHWISE_CONV_2D": (1, 2, 3, 0),
    "FULLY_CONNECTED": (1, 0),
}
# The largest difference in probability tolerated between the file and the rebuilt model.
TOLERANCE = 1e-3


def _weights_in_graph_order(interpreter: Interpreter) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(op, kernel, bias) of each distinct weighted layer, in order of first use."""
    ops = interpreter._get_ops_details()  # the public API has no graph view
    # float16 weights reach the kernels through DEQUANTIZE ops: read their constant inputs
    # (a delegate may never fill the dequantised copies).
    constant_of = {op["outputs"][0]: op["inputs"][0] for op in ops if op["op_name"] == "DEQUANTIZE"}

    def constant(index: int) -> np.ndarray:
        return interpreter.get_tensor(constant_of.get(index, index)).astype(np.float32)

    seen: set[int] = set()
    layers: list[tuple[str, np.ndarray, np.ndarray]] = []
    for op in ops:
        name = op["op_name"]
        if name not in _TO_KERAS or op["inputs"][1] in seen:
            continue
        kernel_index, bias_index = op["inputs"][1], op["inputs"][2]
        seen.add(kernel_index)
        layers.append(
            (name, constant(kernel_index).transpose(_TO_KERAS[name]), constant(bias_index))
        )
    return layers


def _probe_faces(count: int = 64) -> np.ndarray:
    """Real validation-split faces in [0, 1] for the equivalence check."""
    _, val = data.train_val_split(data.load_split("train"), 0.1, 1234)
    return val.images[:count, ..., None].astype(np.float32) / 255.0


def load(path: Path, width: float = 1.0, fine_stem: int = 0) -> keras.Model:
    """The network inside ``path`` as a Keras model (single pass, no flip averaging).

    Raises ``ValueError`` when the layers do not line up or the outputs differ.
    """
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    faces = _probe_faces()
    source = _weights_in_graph_order(interpreter)
    model = build_model(len(data.LABELS), width=width, fine_stem=fine_stem, folded=True)
    targets = [layer for layer in model.layers if layer.weights]
    if len(targets) != len(source):
        raise ValueError(
            f"{path}: {len(source)} weighted layers, the architecture has {len(targets)}"
        )
    for layer, (_, kernel, bias) in zip(targets, source, strict=True):
        layer.set_weights([kernel, bias])
    expected = np.concatenate([_output(_run(interpreter, face[None])) for face in faces])
    if not _is_flip_averaged(interpreter):
        got = model.predict(faces, verbose=0)
    else:
        got = (model.predict(faces, verbose=0) + model.predict(faces[:, :, ::-1], verbose=0)) / 2
    error = float(np.abs(got - expected).max())
    if error > TOLERANCE:
        raise ValueError(f"{path}: rebuilt model differs from the file by {error:.4f}")
    return model


def _run(interpreter: Interpreter, image: np.ndarray) -> Interpreter:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    return interpreter


def _output(interpreter: Interpreter) -> np.ndarray:
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def _is_flip_averaged(interpreter: Interpreter) -> bool:
    """A graph that mirrors its input averages the face with its mirror image."""
    return any(op["op_name"] == "REVERSE_V2" for op in interpreter._get_ops_details())
