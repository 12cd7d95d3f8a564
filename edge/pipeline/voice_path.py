"""Voice perception: consent-gated chunks -> speech windows -> scored `VoiceReading`s."""

from typing import Protocol

from edge.types import AudioChunk, EmotionScores, FloatArray, VoiceReading
from edge.voice.vad import SpeechWindow, VoiceActivityDetector


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
        return [self._reading(window) for window in self._vad.process(chunk)]

    def flush(self) -> list[VoiceReading]:
        """The reading of the last, shorter window when a recording ends: a clip shorter than
        one window would otherwise never be heard."""
        window = self._vad.flush()
        return [] if window is None else [self._reading(window)]

    def _reading(self, window: SpeechWindow) -> VoiceReading:
        if not window.speech:
            return window.no_speech_reading()
        scores = self._scorer.score(window.samples)
        return VoiceReading(window.ts_mono_ns, window.window_s, True, scores)

    def reset(self) -> None:
        """Drop buffered audio (consent ended)."""
        self._vad.reset()
