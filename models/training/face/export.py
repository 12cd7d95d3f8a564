"""Export a checkpoint to TFLite, pick the variant on validation, evaluate it on the test set.

Run from the repository root to export the best checkpoint of a (possibly still running) run::

    python -m models.training.face.export --run-name w1-e60-s1234 --out models/

The metrics are computed from the exported ``.tflite`` file with the LiteRT interpreter, so they
describe exactly what ships to the kiosks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from sklearn import metrics

from models.training.face import data
from models.training.face.model import build_model

logger = logging.getLogger(__name__)

MODEL_NAME = "face_expression"
MAX_BYTES = 2 * 1024 * 1024
REPRESENTATIVE_SAMPLES = 500
# Prefer the smaller, faster int8 / single-pass variants unless the others win by this much.
PREFERENCE_MARGIN = 0.003
INPUT_SPEC = {
    "name": "image",
    "shape": [1, 48, 48, 1],
    "dtype": "float32",
    "scaling": "grayscale pixel / 255.0, i.e. [0, 1]; face crop resized to 48x48",
}


@dataclass(frozen=True)
class Variant:
    """One export option: weight/activation quantisation and optional flip test-time averaging."""

    quant: str
    flip_tta: bool

    @property
    def name(self) -> str:
        """Short label used in logs and metrics."""
        return self.quant + ("+flip" if self.flip_tta else "")


VARIANTS = (
    Variant("int8", flip_tta=False),
    Variant("int8", flip_tta=True),
    Variant("fp16", flip_tta=False),
    Variant("fp16", flip_tta=True),
)


def with_flip_tta(model: keras.Model) -> keras.Model:
    """Average predictions of the image and its mirror: expressions are roughly symmetric."""
    inputs = keras.Input(shape=(48, 48, 1), name="image")
    mirrored = keras.ops.flip(inputs, axis=2)
    outputs = keras.layers.Average(name="probs_tta")([model(inputs), model(mirrored)])
    return keras.Model(inputs, outputs, name=model.name + "_tta")


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 ``(N, 48, 48)`` to the model input: float32 ``(N, 48, 48, 1)`` in [0, 1]."""
    return images[..., None].astype(np.float32) / 255.0


def convert(model: keras.Model, quant: str, representative: np.ndarray) -> bytes:
    """Convert a Keras model to TFLite bytes with float32 input/output tensors."""
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quant == "int8":

            def samples() -> Iterator[list[np.ndarray]]:
                for image in representative:
                    yield [to_float(image[None])]

            converter.representative_dataset = samples
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        else:
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()


def predict_tflite(model_bytes: bytes, images: np.ndarray) -> np.ndarray:
    """Run the TFLite model one image at a time, as on the kiosk; returns probabilities."""
    interpreter = Interpreter(model_content=model_bytes, num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    probs = []
    for image in to_float(images):
        interpreter.set_tensor(input_index, image[None])
        interpreter.invoke()
        probs.append(interpreter.get_tensor(output_index)[0].copy())
    return np.stack(probs)


def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Accuracy, UAR, macro F1, per-class recall and the confusion matrix."""
    predicted = probs.argmax(axis=1)
    order = list(range(len(data.LABELS)))
    recall = metrics.recall_score(labels, predicted, labels=order, average=None, zero_division=0)
    return {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "uar": float(metrics.recall_score(labels, predicted, labels=order, average="macro")),
        "macro_f1": float(metrics.f1_score(labels, predicted, labels=order, average="macro")),
        "per_class_recall": dict(zip(data.LABELS, map(float, recall), strict=True)),
        "confusion_matrix": {
            "label_order": list(data.LABELS),
            "rows": "true label",
            "columns": "predicted label",
            "matrix": metrics.confusion_matrix(labels, predicted, labels=order).tolist(),
        },
    }


def choose_variant(
    model: keras.Model, representative: np.ndarray, val: data.Split
) -> tuple[Variant, bytes, dict[str, float | None]]:
    """Export every variant and pick one by validation accuracy (never the test set).

    A variant the interpreter cannot load with its default (XNNPACK) delegate would also fail
    on the kiosk, so it is recorded as ``None`` and skipped rather than worked around.
    """
    scores: dict[str, float | None] = {}
    exported: dict[Variant, bytes] = {}
    for variant in VARIANTS:
        wrapped = with_flip_tta(model) if variant.flip_tta else model
        exported[variant] = convert(wrapped, variant.quant, representative)
        try:
            probs = predict_tflite(exported[variant], val.images)
        except RuntimeError:
            logger.exception("%s does not load with the default delegate; skipped", variant.name)
            scores[variant.name] = None
            continue
        scores[variant.name] = float(metrics.accuracy_score(val.labels, probs.argmax(axis=1)))
        logger.info(
            "%s: val accuracy %.4f, %d bytes",
            variant.name,
            scores[variant.name],
            len(exported[variant]),
        )
    valid = {name: score for name, score in scores.items() if score is not None}
    if not valid:
        raise RuntimeError("no export variant loads in the LiteRT interpreter")
    best = max(valid.values())
    # VARIANTS is ordered by preference, so the first within the margin wins.
    chosen = next(v for v in VARIANTS if valid.get(v.name, -1.0) >= best - PREFERENCE_MARGIN)
    return chosen, exported[chosen], scores


def export_checkpoint(
    folder: Path, out: Path, splits: tuple[data.Split, data.Split, data.Split]
) -> dict[str, Any]:
    """Export the best weights of a run to ``out`` and write the metrics JSON next to it."""
    train, val, test = splits
    state = json.loads((folder / "state.json").read_text())
    config = state["config"]
    model = build_model(
        len(data.LABELS),
        width=config["width"],
        dropout=config["dropout"],
        # Runs from before the option have no key: they had no fine stem.
        fine_stem=config.get("fine_stem", 0),
    )
    model.load_weights(str(folder / "best.weights.h5"))
    rng = np.random.default_rng(config["seed"])
    representative = train.images[rng.choice(len(train.labels), REPRESENTATIVE_SAMPLES, False)]
    variant, model_bytes, val_scores = choose_variant(model, representative, val)
    if len(model_bytes) > MAX_BYTES:
        raise ValueError(f"{variant.name} model is {len(model_bytes)} bytes, over {MAX_BYTES}")
    out.mkdir(parents=True, exist_ok=True)
    tflite_path = out / f"{MODEL_NAME}.tflite"
    tflite_path.write_bytes(model_bytes)
    # Evaluate the file as written, not the in-memory bytes or the Keras model.
    file_bytes = tflite_path.read_bytes()
    result = build_report(state, model, variant, val_scores, file_bytes)
    # Test metrics sit at the top level; everything else describes how the file was made.
    result |= classification_metrics(test.labels, predict_tflite(file_bytes, test.images))
    result["n_test"] = len(test.labels)
    result["val_accuracy_exported"] = val_scores[variant.name]
    (out / f"{MODEL_NAME}.metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    logger.info(
        "wrote %s: test accuracy %.4f, UAR %.4f", tflite_path, result["accuracy"], result["uar"]
    )
    return result


def build_report(
    state: dict[str, Any],
    model: keras.Model,
    variant: Variant,
    val_scores: dict[str, float],
    model_bytes: bytes,
) -> dict[str, Any]:
    """Training and export facts that go into the metrics JSON besides the test metrics."""
    history = state["history"]
    seconds = [entry["seconds"] for entry in history[1:]] or [e["seconds"] for e in history]
    return {
        "model": MODEL_NAME,
        "labels": list(data.LABELS),
        "input": INPUT_SPEC,
        "output": {"shape": [1, len(data.LABELS)], "dtype": "float32", "meaning": "softmax"},
        "export_variant": variant.name,
        "export_val_accuracy_by_variant": val_scores,
        # Validation accuracy of the best epoch (Keras model), the checkpoint-selection criterion.
        "val_accuracy": state["best_val_accuracy"],
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "epochs_planned": state["config"]["epochs"],
        "schedule_changes": state.get("schedule_changes", []),
        "params": int(model.count_params()),
        "seconds_per_epoch": round(float(np.median(seconds)), 1),
        "training_command": state["command"],
        "seed": state["config"]["seed"],
        "config": state["config"],
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "size_bytes": len(model_bytes),
        "test_set": "FER2013 test/ (PublicTest + PrivateTest), never used for selection",
    }


def main(argv: list[str] | None = None) -> None:
    """Export the best checkpoint of a run (it may still be training)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-name", required=True, help="folder under checkpoints/")
    parser.add_argument("--out", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    folder = data.cache_dir() / "checkpoints" / args.run_name
    config = json.loads((folder / "state.json").read_text())["config"]
    train, val = data.train_val_split(
        data.load_split("train"), config["val_fraction"], config["seed"]
    )
    export_checkpoint(folder, args.out, (train, val, data.load_split("test")))


if __name__ == "__main__":
    main()
