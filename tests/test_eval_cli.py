"""`moodsense eval`: the JSON contract of the command, on real held-out data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.data_paths import DATA, fer_images

REPO = Path(__file__).resolve().parents[1]
FER_BASELINE = REPO / "bench" / "baselines" / "fer"
KEYS = {
    "accuracy",
    "uar",
    "macro_f1",
    "per_class_recall",
    "predicted_share",
    "confusion",
    "n_scored",
    "n_skipped",
}


def _eval(kind: str, manifest: Path, *extra: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "edge", "eval", kind, "--manifest", str(manifest), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    document: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return document


def _fer_manifest(tmp_path: Path, per_class: int) -> Path:
    """A manifest of real FER2013 test faces, with the dataset's own spellings."""
    rows = ["path,label"]
    for folder in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"):
        rows += [f"{path},{folder}" for path in fer_images(folder, per_class)]
    rows.append("missing.png,happy")
    rows.append(f"{fer_images('happy', 1)[0]},contempt")
    (tmp_path / "eval.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "eval.csv"


def test_face_eval_reports_the_metrics_and_what_it_skipped(tmp_path: Path) -> None:
    """Evaluators run this on their own held-out data and parse the last line."""
    scores = _eval(
        "face",
        _fer_manifest(tmp_path, 12),
        "--models-dir",
        str(FER_BASELINE),
        "--model",
        "fer_minixception",
    )
    assert set(scores) >= KEYS
    assert scores["n_scored"] == 84
    assert scores["skipped"] == {"missing_file": 1, "label:contempt": 1}
    assert scores["accuracy"] > 0.4  # the fer package's model is well above chance (0.14)


def test_face_eval_restricts_scoring_and_argmax_to_the_given_labels(tmp_path: Path) -> None:
    """The usual reduced protocols (e.g. 4 classes) must be computed the same way."""
    scores = _eval(
        "face",
        _fer_manifest(tmp_path, 6),
        "--models-dir",
        str(FER_BASELINE),
        "--model",
        "fer_minixception",
        "--labels",
        "happy,sad,angry,neutral",
    )
    confusion = scores["confusion"]
    assert isinstance(confusion, dict) and confusion["labels"] == [
        "happy",
        "sad",
        "angry",
        "neutral",
    ]
    assert scores["n_scored"] == 24


def test_voice_eval_maps_calm_and_skips_what_the_model_cannot_say(tmp_path: Path) -> None:
    """RAVDESS's own labels (calm, disgust) must be mapped or skipped, and counted; like the
    kiosk, the command scores speech only: silence and hiss are skipped, not given a mood."""
    names = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry"}
    names |= {"06": "fearful", "07": "disgust", "08": "surprised"}
    clips = sorted((DATA / "speech" / "ravdess" / "Actor_19").glob("*.flac"))[::3]
    rows = ["path,label"] + [f"{c},{names[c.name.split('-')[2]]}" for c in clips]
    noise = np.random.default_rng(7).normal(0.0, 0.05, 48000)
    for name, samples in (("silence", np.zeros(48000)), ("hiss", noise)):
        sf.write(tmp_path / f"{name}.wav", samples.astype(np.float32), 16000)
        rows.append(f"{name}.wav,angry")
    (tmp_path / "eval.csv").write_text("\n".join(rows) + "\n")
    scores = _eval("voice", tmp_path / "eval.csv", "--labels", "neutral,happy,sad,angry")
    assert set(scores) >= KEYS
    four = {"neutral", "calm", "happy", "sad", "angry"}
    expected = sum(1 for c in clips if names[c.name.split("-")[2]] in four)
    assert scores["n_scored"] == expected and scores["n_skipped"] == len(clips) - expected + 2
    assert scores["skipped"]["no_speech"] == 2
    assert isinstance(scores["speech_windows"], int) and scores["speech_windows"] >= expected
    assert isinstance(scores["arousal_accuracy"], float) and scores["arousal_accuracy"] > 0.6
    assert scores["uar"] > 0.4  # chance is 0.25
    shares = scores["predicted_share"]
    assert isinstance(shares, dict) and set(shares) == four - {"calm"}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
