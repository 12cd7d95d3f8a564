"""Models are verified before use: a missing, truncated or tampered file stops the start."""

import shutil
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import cv2
import numpy as np
import pytest

from edge.inference.registry import DEFAULT_MODELS_DIR, ModelError, ModelRegistry, file_sha256
from edge.inference.runtime import RuntimeUnavailable, TfliteModel
from tests.data_paths import fer_images

DETECTOR = "face_detection_short_range.tflite"


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    """A private copy of the real models directory that a test may damage."""
    target = tmp_path / "models"
    target.mkdir()
    shutil.copy(DEFAULT_MODELS_DIR / "manifest.toml", target)
    for spec in ModelRegistry().specs.values():
        shutil.copy(spec.path, target)
    return target


def test_every_model_in_the_manifest_matches_its_sha256() -> None:
    """A model that differs from its manifest entry must never be shipped."""
    specs = ModelRegistry().verify_all()
    assert {s.name for s in specs} >= {"face_detection", "face_landmark"}
    for spec in specs:
        assert file_sha256(spec.path) == spec.sha256


def _break(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # tampered: one flipped byte in the middle
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])


@pytest.mark.parametrize("how", ["missing", "truncated", "tampered"])
def test_a_damaged_model_is_refused_naming_the_file(models_copy: Path, how: str) -> None:
    """Loading a half-written update or a swapped file would give silent nonsense."""
    _break(models_copy / DETECTOR, how)
    with pytest.raises(ModelError, match=DETECTOR):
        ModelRegistry(models_copy).verify("face_detection")


@pytest.mark.parametrize("how", ["missing", "truncated", "tampered"])
def test_run_exits_2_with_one_line_when_a_model_is_damaged(
    models_copy: Path, tmp_path: Path, how: str
) -> None:
    """systemd must show which file is wrong, and restart loops must not hide it."""
    _break(models_copy / DETECTOR, how)
    config = tmp_path / "edge.yaml"
    config.write_text(f"models:\n  dir: {models_copy}\nstate_dir: {tmp_path / 'state'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert DETECTOR in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_that_matches_its_hash_but_is_not_a_model_is_refused(models_copy: Path) -> None:
    """Even a manifest written for a bad file must not crash the interpreter."""
    bad = models_copy / DETECTOR
    bad.write_bytes(b"not a flatbuffer" * 100)
    manifest = models_copy / "manifest.toml"
    old = ModelRegistry(models_copy).specs["face_detection"].sha256
    manifest.write_text(manifest.read_text().replace(old, file_sha256(bad)))
    with pytest.raises(ModelError, match="not a loadable TFLite model"):
        ModelRegistry(models_copy).open("face_detection")


def test_without_any_tflite_runtime_the_error_says_what_to_install() -> None:
    """On a bare Pi the fix must be obvious from the message."""
    blocked = {"ai_edge_litert.interpreter": None, "tflite_runtime.interpreter": None}
    with (
        patch.dict(sys.modules, blocked),
        pytest.raises(RuntimeUnavailable, match="ai-edge-litert"),
    ):
        TfliteModel(DEFAULT_MODELS_DIR / DETECTOR)


def _detector_input(gray: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.resize(gray, (128, 128)), cv2.COLOR_GRAY2RGB)
    return (rgb.astype(np.float32) / 127.5 - 1.0)[np.newaxis]


def test_the_runtime_runs_the_real_detector_on_real_faces() -> None:
    """The runtime must produce the model's real outputs, not just load it."""
    _spec, model = ModelRegistry().open("face_detection")
    face_scores = []
    for path in fer_images("happy", 10):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        padded = cv2.copyMakeBorder(gray, 16, 16, 16, 16, cv2.BORDER_CONSTANT, value=128)
        face_scores.append(float(model.run(_detector_input(padded))[1].max()))
    blank = float(model.run(_detector_input(np.full((64, 64), 128, np.uint8)))[1].max())
    # Outputs are logits: a detected face scores > 0 (sigmoid > 0.5), a blank frame does not.
    assert blank < 0
    assert sum(score > 0 for score in face_scores) >= 7
