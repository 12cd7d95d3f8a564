"""Clip index, label mapping and the speaker-independent split for RAVDESS and nEMO.

Split (fixed, see the model card):

- test: RAVDESS actors 19-24, nEMO speakers IC0 and WR0 (never trained on, never used for
  model selection).
- validation: RAVDESS actors 17-18, nEMO speaker KD0 (model selection only).
- train: everything else (RAVDESS actors 1-16; nEMO EB0, MK0, KS0, MP0, SM0, TP0).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from edge.labels import CATEGORIES
from models.training.voice.features import SAMPLE_RATE

LABELS: tuple[str, ...] = CATEGORIES  # the device's canonical order (edge.labels)
FOUR_CLASS: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
HIGH_AROUSAL: frozenset[str] = frozenset({"angry", "happy", "fearful", "surprised", "disgusted"})

# RAVDESS emotion code -> original RAVDESS name (kept for the 8-class metric).
RAVDESS_CODES: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgusted",
    "08": "surprised",
}
# Original emotion names of both corpora -> model label (calm has no output of its own).
TO_MODEL_LABEL: dict[str, str] = {
    "calm": "neutral",
    "anger": "angry",
    "fear": "fearful",
    "happiness": "happy",
    "sadness": "sad",
    **{name: name for name in LABELS},
}

# Arousal/valence are DERIVED, not regressed: expected value of this per-class table under the
# predicted class distribution (circumplex-style placements; sign of arousal = high/low group).
AROUSAL_VALENCE: dict[str, tuple[float, float]] = {
    "neutral": (-0.4, 0.0),
    "happy": (0.6, 0.8),
    "sad": (-0.6, -0.7),
    "angry": (0.8, -0.6),
    "fearful": (0.7, -0.6),
    "disgusted": (0.3, -0.7),
    "surprised": (0.7, 0.3),
}


def av_table() -> np.ndarray:
    """(len(LABELS), 2) float32 matrix mapping class probabilities to (arousal, valence)."""
    return np.array([AROUSAL_VALENCE[name] for name in LABELS], dtype=np.float32)


TEST_SPEAKERS: frozenset[str] = frozenset(
    {f"ravdess_{a:02d}" for a in range(19, 25)} | {"nemo_IC0", "nemo_WR0"}
)
VAL_SPEAKERS: frozenset[str] = frozenset({"ravdess_17", "ravdess_18", "nemo_KD0"})


@dataclass(frozen=True)
class Clip:
    """One labelled recording."""

    path: str
    corpus: str
    speaker: str
    original: str
    sentence: str

    @property
    def label(self) -> str:
        """Model label of this clip."""
        return TO_MODEL_LABEL[self.original]

    @property
    def label_index(self) -> int:
        """Index of the model label in ``LABELS``."""
        return LABELS.index(self.label)

    @property
    def split(self) -> str:
        """``train``, ``val`` or ``test`` according to the fixed speaker split."""
        if self.speaker in TEST_SPEAKERS:
            return "test"
        if self.speaker in VAL_SPEAKERS:
            return "val"
        return "train"


def data_root() -> Path:
    """Data directory: ``$MOODSENSE_DATA`` or ``../shared/data`` next to the repo."""
    env = os.environ.get("MOODSENSE_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[4] / "shared" / "data"


def ravdess_clips(root: Path) -> list[Clip]:
    """Index RAVDESS speech clips from their file names."""
    clips = []
    for path in sorted((root / "speech" / "ravdess").glob("Actor_*/*.flac")):
        parts = path.stem.split("-")
        clips.append(
            Clip(
                path=str(path),
                corpus="ravdess",
                speaker=f"ravdess_{parts[6]}",
                original=RAVDESS_CODES[parts[2]],
                sentence=f"ravdess_s{parts[4]}",
            )
        )
    return clips


def nemo_clips(root: Path) -> list[Clip]:
    """Index nEMO clips from ``data.tsv``."""
    base = root / "speech" / "nemo"
    with open(base / "data.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Clip(
            path=str(base / "samples" / row["file_id"]),
            corpus="nemo",
            speaker=f"nemo_{row['speaker_id']}",
            original=row["emotion"],
            sentence=row["normalized_text"],
        )
        for row in sorted(rows, key=lambda r: r["file_id"])
    ]


def all_clips(root: Path | None = None) -> list[Clip]:
    """All clips of both corpora in a deterministic order."""
    root = root or data_root()
    return ravdess_clips(root) + nemo_clips(root)


def load_audio(path: str) -> np.ndarray:
    """Read a clip as mono float32 at 16 kHz (the corpora are stored at 16 kHz already)."""
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    if sr != SAMPLE_RATE:
        raise ValueError(f"{path}: expected {SAMPLE_RATE} Hz, got {sr}")
    return audio.mean(axis=1)
