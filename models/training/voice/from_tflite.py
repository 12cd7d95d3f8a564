"""Rebuild a released voice ``.tflite`` as a Keras classifier (``models.training.tflite_weights``).

TFLite stores each Conv1D as a CONV_2D of kernel ``[out, 1, k, in]`` with BatchNorm folded into
its bias; ``build_classifier(folded=True)`` has that form. The file's last layer, the fixed
arousal/valence table, is left out: the export adds it again. ``load`` runs both on real
validation windows and refuses a mismatch.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from models.training import tflite_weights as tfw
from models.training.voice import data
from models.training.voice.features import extract_windows
from models.training.voice.model import build_classifier

PROBE_CLIPS = 8


def _kernel_to_keras(weights: tfw.WeightedLayer) -> np.ndarray:
    """Conv ``[out, 1, k, in]`` -> Conv1D ``[k, in, out]``; dense ``[out, in]`` -> ``[in, out]``."""
    kernel = weights.kernel
    return kernel[:, 0].transpose(1, 2, 0) if weights.op == "CONV_2D" else kernel.T


def load(path: Path, width: float = 1.0, name: str = "voice_emotion") -> keras.Model:
    """The classifier inside ``path`` (probabilities only).

    Raises ``ValueError`` when the layers do not line up or the outputs differ.
    """
    interpreter = tfw.open_interpreter(str(path))
    source = tfw.weighted_layers(interpreter)[:-1]  # the last one is the arousal/valence table
    model = build_classifier(width=width, name=name, folded=True)
    tfw.copy_weights(source, model, _kernel_to_keras, str(path))
    val = [c for c in data.all_clips() if c.split == "val"]
    probe = val[:: max(1, len(val) // PROBE_CLIPS)]  # both corpora, several speakers' clips
    windows = np.concatenate([extract_windows(data.load_audio(c.path)) for c in probe])[..., None]
    expected = tfw.file_outputs(interpreter, windows, len(data.LABELS))
    tfw.check_equal(str(path), expected, model.predict(windows, verbose=0))
    return model
