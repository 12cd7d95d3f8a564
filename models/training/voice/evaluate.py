"""Evaluate the EXPORTED .tflite on the test speakers, clean and at 10 dB SNR.

Features are computed from the audio with ``features.extract_windows`` (the device function),
and an utterance is scored by averaging its window probabilities, as the live pipeline does.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from models.training.voice import testset
from models.training.voice.data import Clip, load_audio
from models.training.voice.features import extract_windows
from models.training.voice.metrics import reports_by_corpus
from models.training.voice.scoring import average_by_owner
from models.training.voice.train import validation_score

LOG = logging.getLogger(__name__)


class TFLiteScorer:
    """Runs the exported model window by window (batch 1, one thread, like the Pi)."""

    def __init__(self, path: Path) -> None:
        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        outputs = self.interpreter.get_output_details()
        # Identify the heads by width: 7 class probabilities vs 2 (arousal, valence).
        self.probs = next(o for o in outputs if o["shape"][-1] != 2)
        self.av = next(o for o in outputs if o["shape"][-1] == 2)
        self.seconds = 0.0
        self.windows = 0

    def spec(self) -> dict[str, object]:
        """Input/output tensor names, shapes and dtypes for the manifest."""

        def describe(d: dict[str, Any]) -> dict[str, object]:
            return {"name": d["name"], "shape": d["shape"].tolist(), "dtype": d["dtype"].__name__}

        return {
            "input": describe(self.input),
            "output_emotion": describe(self.probs),
            "output_arousal_valence": describe(self.av),
        }

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities for (n, 250, 64) or (n, 250, 64, 1) windows."""
        out = []
        start = time.perf_counter()
        for window in windows.reshape(windows.shape[0], *self.input["shape"][1:]):
            self.interpreter.set_tensor(self.input["index"], window[None].astype(np.float32))
            self.interpreter.invoke()
            out.append(self.interpreter.get_tensor(self.probs["index"])[0].copy())
        self.seconds += time.perf_counter() - start
        self.windows += len(out)
        return np.stack(out)


def evaluate_condition(
    scorer: TFLiteScorer, clips: list[Clip], condition: str, sources: list[np.ndarray]
) -> dict[str, dict[str, object]]:
    """Per-corpus metrics of the TFLite model on the test clips under one condition."""
    ids, probs = [], []
    for i, audio in testset.iter_test_audio(clips, condition, sources):
        windows = extract_windows(audio)
        probs.append(average_by_owner(scorer(windows), np.zeros(len(windows), int), 1)[0])
        ids.append(i)
    return reports_by_corpus(clips, ids, np.stack(probs))


def evaluate_tflite(path: Path, clips: list[Clip]) -> dict[str, object]:
    """Test metrics (clean and snr10), tensor spec and per-window latency of the .tflite."""
    scorer = TFLiteScorer(path)
    sources = testset.val_babble_sources(clips)
    out: dict[str, object] = {"tensors": scorer.spec()}
    for condition in testset.CONDITIONS:
        out[condition] = evaluate_condition(scorer, clips, condition, sources)
        LOG.info("tflite %s done", condition)
    out["ms_per_window_x86_1thread"] = round(1000 * scorer.seconds / max(scorer.windows, 1), 3)
    return out


def validation_scores(path: Path, clips: list[Clip]) -> dict[str, float]:
    """Per-corpus UAR (model labels) of the .tflite on the clean validation speakers.

    The criterion that chose the members' checkpoints, computed on what ships.
    """
    scorer = TFLiteScorer(path)
    val = [c for c in clips if c.split == "val"]
    probs = np.stack(
        [scorer(w).mean(axis=0) for w in (extract_windows(load_audio(c.path)) for c in val)]
    )
    labels = np.array([c.label_index for c in val])
    corpora = np.array([c.corpus for c in val])
    return {k: round(v, 4) for k, v in validation_score(probs, labels, corpora).items()}
