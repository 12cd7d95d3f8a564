"""The device's numpy log-mel features against librosa, the reference the models were trained on."""

import subprocess
import sys

import librosa
import numpy as np
import pytest
import soundfile as sf

from edge.voice import features
from tests.data_paths import DATA


def librosa_log_mel_db(samples: np.ndarray) -> np.ndarray:
    """The spec computed with librosa, as the feature code did before it dropped librosa."""
    if samples.size < features.N_FFT:
        samples = np.pad(samples, (0, features.N_FFT - samples.size))
    spec = librosa.stft(
        samples,
        n_fft=features.N_FFT,
        hop_length=features.HOP_LENGTH,
        win_length=features.WIN_LENGTH,
        center=True,
    )
    basis = librosa.filters.mel(
        sr=features.SAMPLE_RATE,
        n_fft=features.N_FFT,
        n_mels=features.N_MELS,
        fmin=features.FMIN,
        fmax=features.FMAX,
    )
    mel = basis @ (np.abs(spec) ** 2)
    return np.asarray((10.0 * np.log10(mel + 1e-10)).T, dtype=np.float32)


def speech_clips(count: int) -> list[np.ndarray]:
    """Real 16 kHz speech: RAVDESS test actors and nEMO, first clips in sorted order."""
    paths = sorted((DATA / "speech" / "ravdess").glob("Actor_2[0-4]/*.flac"))[:count]
    paths += sorted((DATA / "speech" / "nemo" / "samples").glob("*.ogg"))[:count]
    if not paths:
        pytest.skip(f"no speech recordings under {DATA / 'speech'}")
    clips = []
    for path in paths:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        assert rate == features.SAMPLE_RATE, path
        clips.append(audio.mean(axis=1))
    return clips


def test_mel_filterbank_equals_librosa() -> None:
    """The filterbank is the one the voice model was trained with, value for value."""
    reference = librosa.filters.mel(
        sr=features.SAMPLE_RATE,
        n_fft=features.N_FFT,
        n_mels=features.N_MELS,
        fmin=features.FMIN,
        fmax=features.FMAX,
    )
    np.testing.assert_allclose(features._mel_basis(), reference, rtol=1e-6, atol=1e-9)


def test_features_match_librosa_on_real_speech() -> None:
    """Training (librosa reference) and device features agree on real speech, window by window."""
    for clip in speech_clips(6):
        ours = features.log_mel_db(clip)
        reference = librosa_log_mel_db(clip)
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-3)  # dB
        np.testing.assert_allclose(
            features.extract_windows(clip),
            features.windows_from_log_mel(reference),
            rtol=0,
            atol=1e-4,
        )


@pytest.mark.parametrize("length", [1, 300, 512, 513, 1000, 16_001])
def test_short_and_odd_lengths_match_librosa(length: int) -> None:
    """Frame counts and edge padding agree for inputs of any length, even below one FFT frame."""
    clip = np.random.default_rng(length).uniform(-0.5, 0.5, length).astype(np.float32)
    np.testing.assert_allclose(features.log_mel_db(clip), librosa_log_mel_db(clip), atol=1e-3)


def test_runtime_feature_path_imports_no_heavy_libraries() -> None:
    """The device path must not pull librosa/scipy/numba back in (about 190 MB of RSS)."""
    code = (
        "import sys, numpy as np\n"
        "import edge.pipeline.build\n"
        "from edge.voice.features import extract_windows\n"
        "extract_windows(np.zeros(48000, np.float32))\n"
        "heavy = {'librosa', 'scipy', 'numba', 'llvmlite', 'sklearn'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
