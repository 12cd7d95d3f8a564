"""Voice perception: consent-gated chunks -> speech windows -> scored `VoiceReading`s."""

from typing import Protocol

from edge.types import AudioChunk, EmotionScores, FloatArray, VoiceReading
from edge.voice.vad import VoiceActivityDetector


class VoiceScorer(Protocol):
    """Scores one window of 16 kHz speech."""

    def score(self, samples: FloatArray) -> EmotionScores:
        """Emotion scores for the window's samples."""
        ...


class VoicePath:
    """Only speech reaches the model; silent windows say so and are not scored."""

    def __init__(self, vad: VoiceActivityDetector, scorer: VoiceScorer) -> None:
        self._vad, self._scorer = vad, scorer

    def process(self, chunk: AudioChunk) -> list[VoiceReading]:
        """Readings for every analysis window that `chunk` completed."""
        readings = []
        for window in self._vad.process(chunk):
            if not window.speech:
                readings.append(window.no_speech_reading())
                continue
            scores = self._scorer.score(window.samples)
            readings.append(VoiceReading(window.ts_mono_ns, window.window_s, True, scores))
        return readings

    def reset(self) -> None:
        """Drop buffered audio (consent ended)."""
        self._vad.reset()
