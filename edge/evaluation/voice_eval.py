"""`moodsense eval voice`: score the voice model on labelled recordings.

Any rate, channel count and length: files are read through the same file source as replay
(mono, 16 kHz), and a clip longer than one window is scored the way the live pipeline scores
an utterance (mean of its windows' probabilities).
"""

from collections import Counter
from typing import Any

import numpy as np
import soundfile as sf

from edge.capture.audio_file import AudioFileSource
from edge.evaluation.manifest import LabelledItem
from edge.inference.registry import ModelSpec
from edge.inference.runtime import TfliteModel
from edge.types import FloatArray
from edge.voice.emotion import VoiceEmotionModel


def read_clip(item: LabelledItem) -> FloatArray | None:
    """The whole clip as 16 kHz mono float32, or None if it cannot be decoded."""
    try:
        source = AudioFileSource(item.path)
    except (sf.LibsndfileError, OSError, ValueError):
        return None
    chunks = []
    try:
        while (chunk := source.read(0)) is not None:
            chunks.append(chunk.samples)
    finally:
        source.close()
    return np.concatenate(chunks) if chunks else None


def run_voice_eval(
    spec: ModelSpec, model: TfliteModel, items: list[LabelledItem], allowed: tuple[str, ...]
) -> tuple[list[str], list[str], dict[str, Any]]:
    """(truth, predicted, extra counts) with the argmax restricted to `allowed`."""
    scorer = VoiceEmotionModel(spec, model)
    skipped: Counter[str] = Counter()
    truth, predicted = [], []
    for item in items:
        samples = read_clip(item)
        if samples is None:
            skipped["unreadable"] += 1
            continue
        probabilities = dict(zip(spec.labels, scorer.probabilities(samples), strict=True))
        truth.append(item.label)
        predicted.append(max(allowed, key=lambda label: float(probabilities.get(label, 0.0))))
    return truth, predicted, {"skipped": skipped}
