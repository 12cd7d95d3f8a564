"""Export checkpoints to TFLite, pick the variant on validation, evaluate it on the test set.

Run from the repository root to export the best checkpoint of a (possibly still running) run::

    python -m models.training.face.export --run-name w1-e60-s1234 --out models/

Name ``--run-name`` more than once to export an ensemble: one graph that averages the runs'
probabilities (the runs must share the validation split, i.e. ``val_fraction`` and ``split_seed``).
``--released FILE`` adds the network(s) of an earlier released ``.tflite`` (split seed 1234) as
members, rebuilt from the file by ``from_tflite``::

    git show 853c22f:models/face_expression.tflite > v2.tflite
    python -m models.training.face.export --released v2.tflite --run-name w1.25-e64-s1234

``--without-network K`` leaves network K of the released files out (0-based, in file order,
across all ``--released`` files), to replace one member of an ensemble with a new run.

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from sklearn import metrics

from models.training.face import data, from_tflite
from models.training.face.model import build_model

logger = logging.getLogger(__name__)

MODEL_NAME = "face_expression"
MAX_BYTES = 2 * 1024 * 1024
REPRESENTATIVE_SAMPLES = 500
# Validation faces on which a member rebuilt from a released file must match that file.
PROBE_FACES = 64
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
    """One export option: quantisation and optional flip test-time averaging.

    ``int8``: weights and activations (needs calibration images); ``fp16``: float16 weights;
    ``int8w``: int8 weights with float activations (dynamic range), half the size of fp16.
    """

    quant: str
    flip_tta: bool

    @property
    def name(self) -> str:
        """Short label used in logs and metrics."""
        return self.quant + ("+flip" if self.flip_tta else "")


# In order of preference: smaller and faster first; int8w comes after fp16 because its hybrid
# kernels are slower than XNNPACK's float path, so it wins only by accuracy or by fitting.
VARIANTS = (
    Variant("int8", flip_tta=False),
    Variant("int8", flip_tta=True),
    Variant("fp16", flip_tta=False),
    Variant("fp16", flip_tta=True),
    Variant("int8w", flip_tta=False),
    Variant("int8w", flip_tta=True),
)


def with_flip_tta(model: keras.Model) -> keras.Model:
    """Average predictions of the image and its mirror: expressions are roughly symmetric.

    The faces and their mirrors run as one batch through one call of ``model``: calling it
    twice made the converter store some tensors twice (38 KB of version 5's three networks),
    for the same answers.
    """
    inputs = keras.Input(shape=(48, 48, 1), name="image")
    both = keras.ops.concatenate([inputs, keras.ops.flip(inputs, axis=2)], axis=0)
    probs = model(both)
    halves = keras.ops.reshape(probs, (2, -1, probs.shape[-1]))
    return keras.Model(inputs, keras.ops.mean(halves, axis=0), name=model.name + "_tta")


def averaged(models: Sequence[keras.Model]) -> keras.Model:
    """One graph whose output is the mean of the members' probabilities (one member as is)."""
    if len(models) == 1:
        return models[0]
    inputs = keras.Input(shape=(48, 48, 1), name="image")
    outputs = keras.layers.Average(name="probs_ensemble")([m(inputs) for m in models])
    return keras.Model(inputs, outputs, name="moodsense_face_ensemble")


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 ``(N, 48, 48)`` to the model input: float32 ``(N, 48, 48, 1)`` in [0, 1]."""
    return images[..., None].astype(np.float32) / 255.0


def flip_averaged(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Class probabilities of ``model`` for uint8 faces, each averaged with its mirror image."""
    return np.asarray(with_flip_tta(model).predict(to_float(images), batch_size=256, verbose=0))


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
        elif quant == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        # int8w: Optimize.DEFAULT without calibration data is dynamic-range quantisation.
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
    on the kiosk, so it is recorded as ``None`` and skipped rather than worked around; so is a
    variant over the size budget.
    """
    scores: dict[str, float | None] = {}
    exported: dict[Variant, bytes] = {}
    for variant in VARIANTS:
        wrapped = with_flip_tta(model) if variant.flip_tta else model
        exported[variant] = convert(wrapped, variant.quant, representative)
        if len(exported[variant]) > MAX_BYTES:
            logger.info(
                "%s: %d bytes, over %d; skipped", variant.name, len(exported[variant]), MAX_BYTES
            )
            scores[variant.name] = None
            continue
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


def best_weights(folder: Path) -> Path:
    """The run's best checkpoint; a run without one (never finished an epoch) stops the command."""
    weights = folder / "best.weights.h5"
    if not weights.is_file():
        raise SystemExit(f"run {folder.name}: no {weights}")
    return weights


def load_run(folder: Path) -> tuple[keras.Model, dict[str, Any]]:
    """The best weights of one training run and its saved state."""
    state = json.loads((folder / "state.json").read_text())
    config = state["config"]
    model = build_model(
        len(data.LABELS),
        width=config["width"],
        dropout=config["dropout"],
        # Runs from before the option have no key: they had no fine stem.
        fine_stem=config.get("fine_stem", 0),
    )
    model.load_weights(str(best_weights(folder)))
    model.name = _member_name(folder.name)
    return model, state


def load_released(path: Path, probe: np.ndarray) -> tuple[list[keras.Model], dict[str, Any]]:
    """A released ``.tflite``'s networks as members, and what its own metrics file says.

    Every released face model so far was trained on the split of ``data.SPLIT_SEED``; ``probe``
    (validation faces) checks the rebuilt networks against the file.
    """
    models = from_tflite.load(path, probe)
    for k, model in enumerate(models):
        model.name = _member_name(f"{path.stem}_{k}")
    metrics_path = path.with_name(path.stem + ".metrics.json")
    metrics_json = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    return models, {
        "networks": len(models),
        "released_file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        # One run's metrics say how it was trained; an ensemble's say it of its members, so
        # its own members and released members are kept whole (the lineage back to run one).
        "val_accuracy": metrics_json.get("val_accuracy", metrics_json.get("val_accuracy_exported")),
        "training_command": metrics_json.get("training_command"),
        "schedule_changes": metrics_json.get("schedule_changes", []),
        "config": metrics_json.get("config", {"val_fraction": 0.1, "seed": data.SPLIT_SEED}),
        "members": metrics_json.get("members", []),
        "released_members": metrics_json.get("released_members", []),
    }


def _member_name(name: str) -> str:
    """A layer name Keras accepts, unique per member."""
    return "member_" + "".join(c if c.isalnum() else "_" for c in name)


def export_runs(
    folders: Sequence[Path],
    out: Path,
    splits: tuple[data.Split, data.Split, data.Split],
    released: Sequence[Path] = (),
    without: Sequence[int] = (),
) -> dict[str, Any]:
    """Export the best weights of one run, or the average of several, to ``out`` with metrics.

    ``released`` adds earlier released ``.tflite`` files as members, less the networks whose
    indices (file order, across the files) are in ``without``.
    """
    train, val, test = splits
    loaded = [load_released(path, val.images[:PROBE_FACES]) for path in released]
    networks = [m for models, _ in loaded for m in models]
    if any(not 0 <= k < len(networks) for k in without):
        raise SystemExit(f"--without-network: the released files hold {len(networks)} networks")
    left_out = set(without)
    kept = [m for k, m in enumerate(networks) if k not in left_out]
    runs = [load_run(folder) for folder in folders]
    states = [state for _, state in loaded] + [state for _, state in runs]
    split_keys = {(s["config"]["val_fraction"], data.split_seed(s["config"])) for s in states}
    if len(split_keys) > 1:
        # Another split would put one member's training images in the other's validation.
        raise ValueError(f"members use different validation splits: {sorted(split_keys)}")
    model = averaged(kept + [m for m, _ in runs])
    rng = np.random.default_rng(runs[0][1]["config"]["seed"])
    representative = train.images[rng.choice(len(train.labels), REPRESENTATIVE_SAMPLES, False)]
    variant, model_bytes, val_scores = choose_variant(model, representative, val)
    out.mkdir(parents=True, exist_ok=True)
    tflite_path = out / f"{MODEL_NAME}.tflite"
    tflite_path.write_bytes(model_bytes)
    # Evaluate the file as written, not the in-memory bytes or the Keras model.
    file_bytes = tflite_path.read_bytes()
    result = build_report(
        [run_report(state) for _, state in runs],
        [report for _, report in loaded],
        model,
        variant,
        val_scores,
    )
    if left_out:
        result["released_networks_left_out"] = sorted(left_out)
    result |= {"sha256": hashlib.sha256(file_bytes).hexdigest(), "size_bytes": len(file_bytes)}
    # Test metrics sit at the top level; everything else describes how the file was made.
    result |= classification_metrics(test.labels, predict_tflite(file_bytes, test.images))
    result["n_test"] = len(test.labels)
    (out / f"{MODEL_NAME}.metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    logger.info(
        "wrote %s: test accuracy %.4f, UAR %.4f", tflite_path, result["accuracy"], result["uar"]
    )
    return result


def run_report(state: dict[str, Any]) -> dict[str, Any]:
    """How one training run went: its selection, schedule, speed and exact command."""
    history = state["history"]
    seconds = [entry["seconds"] for entry in history[1:]] or [e["seconds"] for e in history]
    return {
        # Validation accuracy of the best epoch (Keras model), the checkpoint-selection criterion.
        "val_accuracy": state["best_val_accuracy"],
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "epochs_planned": state["config"]["epochs"],
        "schedule_changes": state.get("schedule_changes", []),
        "seconds_per_epoch": round(float(np.median(seconds)), 1),
        "training_command": state["command"],
        "seed": state["config"]["seed"],
        "config": state["config"],
    }


def build_report(
    runs: Sequence[dict[str, Any]],
    released: Sequence[dict[str, Any]],
    model: keras.Model,
    variant: Variant,
    val_scores: dict[str, float | None],
) -> dict[str, Any]:
    """Training and export facts that go into the metrics JSON besides the test metrics.

    A single run's facts sit at the top level (as before ensembles); an ensemble lists them
    per member and says how they are combined.
    """
    report: dict[str, Any] = {
        "model": MODEL_NAME,
        "labels": list(data.LABELS),
        "input": INPUT_SPEC,
        "output": {"shape": [1, len(data.LABELS)], "dtype": "float32", "meaning": "softmax"},
        "export_variant": variant.name,
        "export_val_accuracy_by_variant": val_scores,
        "val_accuracy_exported": val_scores[variant.name],
        "params": int(model.count_params()),
        "test_set": "FER2013 test/ (PublicTest + PrivateTest), never used for selection",
    }
    if len(runs) == 1 and not released:
        return report | runs[0]
    return report | {
        "ensemble": "mean of the members' probabilities, one graph",
        "members": list(runs),
        "released_members": list(released),
    }


def main(argv: list[str] | None = None) -> None:
    """Export the best checkpoint of a run, or an ensemble of runs (they may still be training)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run-name",
        required=True,
        action="append",
        help="folder under checkpoints/; repeat it to average several runs",
    )
    parser.add_argument(
        "--released",
        type=Path,
        action="append",
        default=[],
        help="an earlier released .tflite whose networks join as members (.metrics.json beside it)",
    )
    parser.add_argument(
        "--without-network",
        type=int,
        action="append",
        default=[],
        help="leave out network K of the released files (0-based, file order); repeat it",
    )
    parser.add_argument("--out", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    folders = [data.cache_dir() / "checkpoints" / name for name in args.run_name]
    config = json.loads((folders[0] / "state.json").read_text())["config"]
    train, val = data.train_val_split(
        data.load_split("train"), config["val_fraction"], data.split_seed(config)
    )
    splits = (train, val, data.load_split("test"))
    export_runs(folders, args.out, splits, args.released, args.without_network)


if __name__ == "__main__":
    main()
