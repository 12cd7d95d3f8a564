"""`moodsense eval voice`: score the voice model on labelled recordings, as a kiosk hears them.

Any rate, channel count and length: a file is read through the same file source as replay
(mono, 16 kHz) and goes through the live voice path: the voice-activity detector (default
`vad` settings, its noise floor learnt online as on a kiosk without calibration, forgotten
between clips) cuts 2.5 s windows every 1 s, only windows with enough speech are scored, and a
clip's score is the mean of its speech windows' probabilities. A clip without one speech window
is skipped and counted as `no_speech`: the kiosk would publish no voice reading for it.
Arousal is the device's too (`edge.labels.valence_arousal` of the clip's mean probabilities),
judged high or low against the true label's place on the circumplex.
"""

from collections import Counter
from typing import Any

import numpy as np
import soundfile as sf

from edge.capture.audio_file import AudioFileSource
from edge.config.audio import VadConfig
from edge.evaluation.manifest import LabelledItem
from edge.inference.registry import ModelSpec
from edge.inference.runtime import TfliteModel
from edge.labels import CIRCUMPLEX
from edge.pipeline.voice_path import VoicePath
from edge.scoring import scores_from_probabilities
from edge.types import EmotionScores
from edge.voice.emotion import VoiceEmotionModel
from edge.voice.vad import VoiceActivityDetector


def speech_scores(item: LabelledItem, voice: VoicePath) -> list[EmotionScores] | None:
    """The scores of every speech window of the clip, or None if it cannot be decoded."""
    try:
        source = AudioFileSource(item.path)
    except (sf.LibsndfileError, OSError, ValueError):
        return None
    readings = []
    try:
        while (chunk := source.read(0)) is not None:
            readings += voice.process(chunk)
    finally:
        source.close()
    readings += voice.flush()
    voice.reset()  # the next clip is another speaker in another room
    return [reading.scores for reading in readings if reading.scores is not None]


def run_voice_eval(
    spec: ModelSpec, model: TfliteModel, items: list[LabelledItem], allowed: tuple[str, ...]
) -> tuple[list[str], list[str], dict[str, Any]]:
    """(truth, predicted, extra counts) with the argmax restricted to `allowed`."""
    voice = VoicePath(VoiceActivityDetector(VadConfig()), VoiceEmotionModel(spec, model))
    skipped: Counter[str] = Counter()
    truth, predicted, arousal_right = [], [], []
    windows = 0
    for item in items:
        window_scores = speech_scores(item, voice)
        if window_scores is None:
            skipped["unreadable"] += 1
            continue
        if not window_scores:
            skipped["no_speech"] += 1
            continue
        windows += len(window_scores)
        mean = np.mean(
            [[s.probabilities.get(label, 0.0) for label in spec.labels] for s in window_scores],
            axis=0,
        )
        clip = scores_from_probabilities(mean, spec.labels)
        truth.append(item.label)
        predicted.append(max(allowed, key=lambda label: clip.probabilities.get(label, 0.0)))
        arousal_right.append((clip.arousal > 0) == (CIRCUMPLEX[item.label][1] > 0))
    extra: dict[str, Any] = {"skipped": skipped, "speech_windows": windows}
    extra["arousal_accuracy"] = round(float(np.mean(arousal_right)), 4) if truth else None
    return truth, predicted, extra
