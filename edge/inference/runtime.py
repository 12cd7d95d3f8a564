"""The TFLite runtime: ai-edge-litert, with tflite-runtime only as a fallback where it imports.

One place creates interpreters, so thread count, quantisation handling and error messages
are the same for every model.
"""

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

# Tried in order: the maintained runtime first; tflite-runtime 2.14 only works under numpy<2.
_BACKENDS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")


class RuntimeUnavailable(RuntimeError):
    """No TFLite runtime could be imported."""


class ModelLoadError(RuntimeError):
    """The runtime could not load or prepare a model file."""


def _interpreter_class() -> Any:
    errors = []
    for module_name in _BACKENDS:
        try:
            return importlib.import_module(module_name).Interpreter
        except ImportError as exc:  # also covers a module set to None in sys.modules
            errors.append(f"{module_name}: {exc}")
    raise RuntimeUnavailable(
        "no TFLite runtime available; install it with `pip install ai-edge-litert` ("
        + "; ".join(errors)
        + ")"
    )


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """Shape, dtype and affine quantisation of one tensor."""

    index: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scale: float
    zero_point: int


def _spec(detail: dict[str, Any]) -> TensorSpec:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorSpec(
        index=int(detail["index"]),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


class TfliteModel:
    """An interpreter with its tensors described; float in, float out, whatever the file."""

    def __init__(self, path: Path, num_threads: int = 1) -> None:
        interpreter_class = _interpreter_class()
        try:
            self._interpreter = interpreter_class(model_path=str(path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{path}: not a loadable TFLite model ({exc})") from exc
        self.path = path
        self.num_threads = num_threads
        self.inputs = [_spec(d) for d in self._interpreter.get_input_details()]
        self.outputs = [_spec(d) for d in self._interpreter.get_output_details()]

    def run(self, *inputs: npt.NDArray[Any]) -> list[npt.NDArray[np.float32]]:
        """Run once. Float inputs are quantised and integer outputs dequantised as needed."""
        for spec, value in zip(self.inputs, inputs, strict=True):
            self._interpreter.set_tensor(spec.index, _to_input(spec, value))
        self._interpreter.invoke()
        return [_from_output(s, self._interpreter.get_tensor(s.index)) for s in self.outputs]


def _to_input(spec: TensorSpec, value: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if spec.dtype.kind in "iu" and spec.scale > 0 and value.dtype.kind == "f":
        info = np.iinfo(spec.dtype)
        quantised = np.round(value / spec.scale + spec.zero_point)
        return np.clip(quantised, info.min, info.max).astype(spec.dtype).reshape(spec.shape)
    return value.astype(spec.dtype, copy=False).reshape(spec.shape)


def _from_output(spec: TensorSpec, value: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    if spec.dtype.kind in "iu" and spec.scale > 0:
        return ((value.astype(np.float32) - spec.zero_point) * spec.scale).astype(np.float32)
    return value.astype(np.float32, copy=False)
