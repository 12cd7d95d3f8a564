"""Read the weights of a released ``.tflite`` back, layer by layer, so it can join an ensemble.

Only the ``.tflite`` of a released model is kept (in git history); its training checkpoint lived
in a cache that a fresh machine does not have. TFLite stores a network in inference form:
BatchNorm folded into each convolution's bias, weights often as float16. Each model's
``from_tflite`` builds the same folded form in Keras, copies these weights in, and checks the
result against the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
# The largest difference in probability tolerated between a file and its rebuilt model.
TOLERANCE = 1e-3


@dataclass(frozen=True)
class WeightedLayer:
    """One weighted op in TFLite layout: conv ``[out, h, w, in]``, depthwise ``[1, h, w, c]``,
    fully connected ``[out, in]``; ``bias`` is None where the op has none."""

    op: str
    kernel: np.ndarray
    bias: np.ndarray | None


def weighted_layers(interpreter: Interpreter) -> list[WeightedLayer]:
    """Each distinct weighted layer in order of first use.

    A graph may run a network twice on shared weights (flip averaging): each weight tensor is
    taken once.
    """
    ops = interpreter._get_ops_details()  # the public API has no graph view
    # float16 weights reach the kernels through DEQUANTIZE ops: read their constant inputs
    # (a delegate may never fill the dequantised copies).
    constant_of = {op["outputs"][0]: op["inputs"][0] for op in ops if op["op_name"] == "DEQUANTIZE"}

    def constant(index: int) -> np.ndarray:
        return interpreter.get_tensor(constant_of.get(index, index)).astype(np.float32)

    seen: set[int] = set()
    layers: list[WeightedLayer] = []
    for op in ops:
        kernel_index = op["inputs"][1] if len(op["inputs"]) > 1 else -1
        if op["op_name"] not in WEIGHTED_OPS or kernel_index in seen:
            continue
        seen.add(kernel_index)
        bias_index = op["inputs"][2] if len(op["inputs"]) > 2 else -1
        bias = constant(bias_index) if bias_index >= 0 else None
        layers.append(WeightedLayer(op["op_name"], constant(kernel_index), bias))
    return layers


def open_interpreter(path: str) -> Interpreter:
    """An allocated interpreter on ``path``."""
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    return interpreter


def copy_weights(
    source: list[WeightedLayer],
    model: keras.Model,
    to_keras: Callable[[WeightedLayer], np.ndarray],
    path: str,
) -> None:
    """Set each weighted layer of ``model``, in order, from ``source`` (kernel via ``to_keras``)."""
    targets = [layer for layer in model.layers if layer.weights]
    if len(targets) != len(source):
        raise ValueError(
            f"{path}: {len(source)} weighted layers, the architecture has {len(targets)}"
        )
    for layer, weights in zip(targets, source, strict=True):
        layer.set_weights([to_keras(weights), weights.bias])


def file_outputs(interpreter: Interpreter, inputs: np.ndarray, width: int) -> np.ndarray:
    """The file's output of width ``width`` for each input, one invoke per input as on a device."""
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = next(
        o["index"] for o in interpreter.get_output_details() if o["shape"][-1] == width
    )
    outputs = []
    for item in inputs:
        interpreter.set_tensor(input_index, item[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output_index)[0].copy())
    return np.stack(outputs)


def check_equal(path: str, expected: np.ndarray, got: np.ndarray) -> None:
    """Refuse a rebuilt model whose probabilities differ from the file's."""
    error = float(np.abs(got - expected).max())
    if error > TOLERANCE:
        raise ValueError(f"{path}: rebuilt model differs from the file by {error:.4f}")
