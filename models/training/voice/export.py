"""Export the selected checkpoint to an fp16 TFLite model with two named outputs."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import tensorflow as tf

from models.training.voice.features import N_MELS, WINDOW_FRAMES
from models.training.voice.model import build_classifier, build_export_model

LOG = logging.getLogger(__name__)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _saved_model(weights: Path, directory: Path, width: float) -> None:
    """SavedModel with one signature: log_mel (1, 250, 64, 1) -> emotion, arousal_valence."""
    classifier = build_classifier(width=width)
    classifier.load_weights(weights)
    export_model = build_export_model(classifier)
    # Keras' own exporter tracks every variable, so the converter can freeze them all.
    export_model.export(
        str(directory),
        format="tf_saved_model",
        input_signature=[tf.TensorSpec([1, WINDOW_FRAMES, N_MELS, 1], tf.float32, "log_mel")],
        verbose=False,
    )


def export_tflite(weights: Path, out_path: Path, width: float = 1.0) -> Path:
    """Convert ``weights`` (best checkpoint of a ``width`` CNN) to fp16 TFLite at ``out_path``."""
    with tempfile.TemporaryDirectory() as tmp:
        _saved_model(weights, Path(tmp), width)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        # fp16 weights: halves the size, no calibration data needed, accuracy unchanged.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        blob = converter.convert()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(blob)
    LOG.info("wrote %s (%d bytes, sha256 %s)", out_path, len(blob), sha256(out_path))
    return out_path
