"""Export trained classifiers (one, or several averaged) to a TFLite model with two outputs."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf
from keras import layers

from models.training.voice.features import N_MELS, WINDOW_FRAMES
from models.training.voice.model import build_classifier, build_export_model

LOG = logging.getLogger(__name__)
# fp16: weights as float16. int8: weights as int8 with per-channel scales, activations stay
# float (dynamic-range quantisation; no calibration data, XNNPACK runs it on the Pi).
QUANTISATIONS = ("fp16", "int8")


@dataclass(frozen=True)
class Member:
    """One trained classifier: its best checkpoint, width and view, or a released ``.tflite``
    (whose networks' widths the file gives; a "band" view network cannot be read back)."""

    weights: Path
    width: float = 1.0
    view: str = "scalar"


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_classifiers(member: Member, name: str = "voice_emotion") -> list[keras.Model]:
    """The trained classifier of one member; a released ensemble file gives one per network."""
    if member.weights.suffix == ".tflite":
        from models.training.voice import from_tflite

        return from_tflite.load(member.weights, name)
    classifier = build_classifier(width=member.width, name=name, view=member.view)
    classifier.load_weights(member.weights)
    return [classifier]


def averaged_classifier(members: Sequence[Member]) -> keras.Model:
    """One window -> the mean of every network's class probabilities (a single one as is)."""
    names = ["voice_emotion"] if len(members) == 1 else [f"member_{k}" for k in range(len(members))]
    networks = [
        n for m, name in zip(members, names, strict=True) for n in load_classifiers(m, name)
    ]
    if len(networks) == 1:
        return networks[0]
    inputs = keras.Input((WINDOW_FRAMES, N_MELS, 1), name="log_mel")
    probs = [network(inputs) for network in networks]
    return keras.Model(inputs, layers.Average()(probs), name="voice_emotion_ensemble")


def _saved_model(members: Sequence[Member], directory: Path) -> None:
    """SavedModel with one signature: log_mel (1, 250, 64, 1) -> emotion, arousal_valence."""
    export_model = build_export_model(averaged_classifier(members))
    # Keras' own exporter tracks every variable, so the converter can freeze them all.
    export_model.export(
        str(directory),
        format="tf_saved_model",
        input_signature=[tf.TensorSpec([1, WINDOW_FRAMES, N_MELS, 1], tf.float32, "log_mel")],
        verbose=False,
    )


def export_tflite(members: Sequence[Member], out_path: Path, quantisation: str = "fp16") -> Path:
    """Convert the members' averaged classifier to TFLite at ``out_path``."""
    if quantisation not in QUANTISATIONS:
        raise ValueError(f"quantisation must be one of {QUANTISATIONS}, not {quantisation!r}")
    with tempfile.TemporaryDirectory() as tmp:
        _saved_model(members, Path(tmp))
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantisation == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        blob = converter.convert()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(blob)
    LOG.info("wrote %s (%d bytes, sha256 %s)", out_path, len(blob), sha256(out_path))
    return out_path
