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
from typing import Any

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
# The largest difference in probability tolerated between a file and its rebuilt model. With
# int8 weights the runtime also quantises activations on the fly (dynamic range), which the
# float rebuild does not: measured 0.004 on voice version 4 and 0.011 on face version 4 (four
# passes of quantised activations), against 0.79 for a wrong mapping.
TOLERANCE = 1e-3
INT8_TOLERANCE = 2e-2


@dataclass(frozen=True)
class WeightedLayer:
    """One weighted op in TFLite layout: conv ``[out, h, w, in]``, depthwise ``[1, h, w, c]``,
    fully connected ``[out, in]``; ``bias`` is None where the op has none."""

    op: str
    kernel: np.ndarray
    bias: np.ndarray | None


def weighted_layers(interpreter: Interpreter) -> list[WeightedLayer]:
    """Each distinct weighted layer in order of first use.

    A graph may run a network twice on shared weights (flip averaging in older files): each
    weight tensor is taken once. Weights come back as float32, whether stored as float32,
    float16 or int8.
    """
    ops = interpreter._get_ops_details()  # the public API has no graph view
    # float16 weights reach the kernels through DEQUANTIZE ops: read their constant inputs
    # (a delegate may never fill the dequantised copies).
    constant_of = {op["outputs"][0]: op["inputs"][0] for op in ops if op["op_name"] == "DEQUANTIZE"}

    details = {d["index"]: d for d in interpreter.get_tensor_details()}

    def constant(index: int) -> np.ndarray:
        index = constant_of.get(index, index)
        return _dequantised(interpreter.get_tensor(index), details[index])

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


def _dequantised(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """float32 weights; int8 weights (dynamic-range files) times their per-channel scales."""
    quantisation = detail["quantization_parameters"]
    scales = quantisation["scales"]
    if values.dtype != np.int8 or not len(scales):
        return values.astype(np.float32)
    shape = [1] * values.ndim
    shape[quantisation["quantized_dimension"]] = len(scales)
    zero_points = quantisation["zero_points"].reshape(shape)
    return ((values.astype(np.float32) - zero_points) * scales.reshape(shape)).astype(np.float32)


def open_interpreter(path: str) -> Interpreter:
    """An allocated interpreter on ``path``."""
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    return interpreter


def weighted_targets(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of ``model`` that hold weights, in order."""
    return [layer for layer in model.layers if layer.weights]


def copy_weights(
    source: list[WeightedLayer],
    model: keras.Model,
    to_keras: Callable[[WeightedLayer], np.ndarray],
    path: str,
) -> None:
    """Set each weighted layer of ``model``, in order, from ``source`` (kernel via ``to_keras``)."""
    targets = weighted_targets(model)
    if len(targets) != len(source):
        raise ValueError(
            f"{path}: {len(source)} weighted layers, the architecture has {len(targets)}"
        )
    for layer, weights in zip(targets, source, strict=True):
        layer.set_weights([to_keras(weights), weights.bias])


def rebuild_networks(
    source: list[WeightedLayer],
    build: Callable[[int, list[WeightedLayer]], keras.Model],
    to_keras: Callable[[WeightedLayer], np.ndarray],
    path: str,
) -> list[keras.Model]:
    """Rebuild the networks an (ensemble) file holds one after the other.

    ``build(k, rest)`` makes network ``k`` from the layers still to place; it takes as many of
    them as it has weighted layers.
    """
    models: list[keras.Model] = []
    start = 0
    while start < len(source):
        model = build(len(models), source[start:])
        count = len(weighted_targets(model))
        copy_weights(source[start : start + count], model, to_keras, path)
        models.append(model)
        start += count
    if not models:
        raise ValueError(f"{path}: no weighted layers")
    return models


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


def check_against_file(
    interpreter: Interpreter, path: str, inputs: np.ndarray, got: np.ndarray
) -> None:
    """Refuse rebuilt probabilities ``got`` that differ from the file's own on ``inputs``.

    Files with int8 weights get the wider tolerance (see ``INT8_TOLERANCE``).
    """
    expected = file_outputs(interpreter, inputs, got.shape[-1])
    int8 = any(d["dtype"] == np.int8 for d in interpreter.get_tensor_details())
    error = float(np.abs(got - expected).max())
    if error > (INT8_TOLERANCE if int8 else TOLERANCE):
        raise ValueError(f"{path}: rebuilt model differs from the file by {error:.4f}")
