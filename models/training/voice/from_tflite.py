"""Rebuild a released voice ``.tflite`` as a Keras classifier (``models.training.tflite_weights``).

TFLite stores each Conv1D as a CONV_2D of kernel ``[out, 1, k, in]`` with BatchNorm folded into
its bias; ``build_classifier(folded=True)`` has that form, at the width its first conv's channel
count gives (a file may mix widths: version 6 does). The file's last layer, the fixed
arousal/valence table, is left out: the export adds it again. int8-weight files are read
through their per-channel scales. ``load`` runs both on real validation windows and refuses a
mismatch.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from models.training import tflite_weights as tfw
from models.training.voice import data
from models.training.voice.features import extract_windows
from models.training.voice.model import BLOCKS, build_classifier

PROBE_CLIPS = 8


def _kernel_to_keras(weights: tfw.WeightedLayer) -> np.ndarray:
    """Conv ``[out, 1, k, in]`` -> Conv1D ``[k, in, out]``; dense ``[out, in]`` -> ``[in, out]``."""
    kernel = weights.kernel
    return kernel[:, 0].transpose(1, 2, 0) if weights.op == "CONV_2D" else kernel.T


def load(path: Path, name: str = "voice_emotion") -> list[keras.Model]:
    """Each classifier inside ``path`` (probabilities only), in the file's order.

    An ensemble file (version 4 on) holds several networks one after the other, each ending in
    its own dense layer; they come back as separate models so a new ensemble weighs every
    network equally. Raises ``ValueError`` when the layers do not line up or the average of
    the rebuilt networks differs from the file's output.
    """
    interpreter = tfw.open_interpreter(str(path))
    models = tfw.rebuild_networks(
        tfw.weighted_layers(interpreter)[:-1],  # the last one is the arousal/valence table
        lambda k, rest: build_classifier(
            width=rest[0].kernel.shape[0] / BLOCKS[0][0], name=f"{name}_{k}", folded=True
        ),
        _kernel_to_keras,
        str(path),
    )
    val = [c for c in data.all_clips() if c.split == "val"]
    probe = val[:: max(1, len(val) // PROBE_CLIPS)]  # both corpora, several speakers' clips
    windows = np.concatenate([extract_windows(data.load_audio(c.path)) for c in probe])[..., None]
    got = np.mean([m.predict(windows, verbose=0) for m in models], axis=0)
    tfw.check_against_file(interpreter, str(path), windows, got)
    return models
