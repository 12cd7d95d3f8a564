"""Do the nEMO speakers' recordings differ in spectral tilt? A diagnosis, not a model choice.

Run from the repository root with the training environment, after a training run has built
the feature cache::

    python -m models.training.voice.tilt_study

For every nEMO speaker and class, the mean over clips of the slope (dB per mel band) of the
clip's mean log-mel spectrum over its speech frames (frames within 30 dB of the loudest). A
duller recording (far microphone, low-pass) has a steeper, more negative slope; louder, tenser
speech a flatter one. It reads the test speakers' audio but no model and no prediction.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from models.training.voice.cache import load_set
from models.training.voice.data import all_clips
from models.training.voice.train import TrainConfig

CLASSES = ("neutral", "sad", "happy", "angry")
# Frames this far below the clip's loudest frame count as pauses, not speech.
SPEECH_RANGE_DB = 30.0


def spectral_tilt(log_mel: np.ndarray) -> float:
    """Slope (dB per band) of the mean spectrum of a clip's speech frames."""
    loudness = log_mel.max(axis=1)
    speech = log_mel[loudness > loudness.max() - SPEECH_RANGE_DB].astype(np.float64)
    return float(np.polyfit(np.arange(log_mel.shape[1]), speech.mean(axis=0), 1)[0])


def main() -> None:
    clips = all_clips()
    clean = load_set(TrainConfig().feature_dir / "clean.npz")
    tilts: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for index, clip in enumerate(clips):
        if clip.corpus == "nemo" and clip.label in CLASSES:
            key = f"{clip.speaker} ({clip.split})"
            tilts[key][clip.label].append(spectral_tilt(clean.item(index)))
    report = {
        speaker: {
            label: round(float(np.mean(values)), 3) for label, values in sorted(by_label.items())
        }
        for speaker, by_label in sorted(tilts.items())
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
