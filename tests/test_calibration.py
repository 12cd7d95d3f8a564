"""Calibration: room measurements on real recordings, and the profile they produce."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.calibration.measure import measure_audio, measure_video
from edge.calibration.profile import build_profile, load_profile, save_profile
from edge.capture.audio_file import AudioFileSource
from edge.capture.video_file import VideoFileSource
from edge.config.camera import FaceConfig
from edge.face.detector import FaceDetector
from tests.data_paths import DATA
from tests.face_clips import Placement, compose, fer_sample, write_clip

RAVDESS_CLIP = DATA / "speech/ravdess/Actor_19/03-01-05-02-01-01-19.flac"


def _noisy_speech(tmp_path: Path, noise_dbfs: float, gain: float = 1.0) -> Path:
    speech, rate = sf.read(RAVDESS_CLIP, dtype="float32")
    noise = np.random.default_rng(0).normal(0, 10 ** (noise_dbfs / 20), speech.shape)
    mixed = np.clip(speech * gain + noise, -1, 1).astype(np.float32)
    path = tmp_path / "room.wav"
    sf.write(path, mixed, rate)
    return path


def test_the_noise_floor_is_measured_near_the_rooms_noise_level(tmp_path: Path) -> None:
    """The VAD threshold is set from this; a wrong floor drops speech or admits noise."""
    if not RAVDESS_CLIP.exists():
        pytest.skip("RAVDESS not available")
    stats = measure_audio(AudioFileSource(_noisy_speech(tmp_path, -50)), seconds=10)
    assert stats is not None
    assert -53 <= stats.noise_floor_dbfs <= -47
    assert stats.level_p95_dbfs > stats.noise_floor_dbfs + 15
    assert stats.clipped_ratio == 0


def test_a_clipping_microphone_is_reported(tmp_path: Path) -> None:
    """Clipped audio distorts tone; the installer must lower the gain."""
    if not RAVDESS_CLIP.exists():
        pytest.skip("RAVDESS not available")
    stats = measure_audio(AudioFileSource(_noisy_speech(tmp_path, -50, gain=40)), seconds=10)
    assert stats is not None and stats.clipped_ratio > 0.001
    profile = build_profile(stats, None, FaceConfig(), "2026-11-25T10:00:00Z")
    assert any("clips" in finding for finding in profile.findings)


def test_face_sizes_and_light_are_measured_and_saved(tmp_path: Path) -> None:
    """Small faces and dark scenes explain `unknown` readings; the profile says so."""
    faces = fer_sample(10)
    frames = [compose([Placement(faces[i], 250, 150, 140)]) for i in range(10)]
    clip = write_clip(tmp_path / "kiosk.avi", frames)
    detector = FaceDetector(FaceConfig())
    try:
        video = measure_video(VideoFileSource(clip), detector, frames=10)
    finally:
        detector.close()
    assert video is not None and video.frames == 10 and video.face_rate > 0
    assert video.face_px_p50 is not None and 80 <= video.face_px_p50 <= 180
    assert 120 <= video.luma_p50 <= 136  # mid-gray background dominates
    profile = build_profile(None, video, FaceConfig(min_face_px=200), "2026-11-25T10:00:00Z")
    assert any("small" in finding for finding in profile.findings)
    assert profile.settings.face_min_px is not None
    save_profile(profile, tmp_path / "calibration" / "profile.json")
    assert load_profile(tmp_path / "calibration" / "profile.json") == profile


def test_an_unreadable_profile_is_ignored_with_defaults(tmp_path: Path) -> None:
    """A damaged file must not stop the kiosk."""
    (tmp_path / "profile.json").write_text("{ not json")
    assert load_profile(tmp_path / "profile.json") is None


EXAMPLE_PROFILE = Path(__file__).resolve().parents[1] / "calibration/example-crema-d-1001-neu.json"
CREMA_NEUTRAL = DATA / "av/crema-d/1001_DFA_NEU_XX.flv"


def test_the_documented_example_profile_is_what_calibrate_measures(tmp_path: Path) -> None:
    """calibration/README.md shows this file as the command's output: keep that true."""
    if not CREMA_NEUTRAL.exists():
        pytest.skip("CREMA-D not available")
    out = tmp_path / "profile.json"
    command = [sys.executable, "-m", "edge", "calibrate", "--audio", str(CREMA_NEUTRAL)]
    command += ["--video", str(CREMA_NEUTRAL), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    measured, example = load_profile(out), load_profile(EXAMPLE_PROFILE)
    assert measured is not None and example is not None
    assert measured.model_dump(exclude={"measured_at"}) == example.model_dump(
        exclude={"measured_at"}
    )
