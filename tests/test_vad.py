"""Voice activity detection on real recordings and generated noise."""

import numpy as np
import pytest
import soundfile as sf
from pydantic import ValidationError

from edge.capture.audio_file import AudioFileSource
from edge.config.audio import AudioConfig, VadConfig
from edge.types import AudioChunk, FloatArray, VoiceReading
from edge.voice.vad import SpeechWindow, VoiceActivityDetector
from tests.data_paths import DATA

RATE_HZ = 16000
# Angry, strong intensity: half a second of room tone (-58 to -70 dBFS), then a soft hum
# (-55 dBFS, voiced: the VAD may take it) and the sentence from 1.0 s.
LATE_ONSET_CLIP = "speech/ravdess/Actor_01/03-01-05-02-01-01-01.flac"
SPEECH_CLIPS = (
    "speech/ravdess/Actor_01/03-01-01-01-01-01-01.flac",
    "speech/ravdess/Actor_01/03-01-03-01-01-01-01.flac",
    "speech/ravdess/Actor_01/03-01-04-02-01-01-01.flac",
    "speech/nemo/samples/EB0_anger_1.ogg",
    "speech/nemo/samples/EB0_anger_10.ogg",
)


def clip(relative: str) -> FloatArray:
    """A real 16 kHz recording from the shared data, read in place."""
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"{relative} not found under {DATA} (set MOODSENSE_DATA)")
    samples, rate_hz = sf.read(path, dtype="float32")
    assert rate_hz == RATE_HZ
    return np.asarray(samples, dtype=np.float32)


def white_noise(seconds: float, level_dbfs: float, seed: int = 0) -> FloatArray:
    """Gaussian white noise with an RMS of `level_dbfs`."""
    noise = np.random.default_rng(seed).standard_normal(int(seconds * RATE_HZ))
    return (noise * 10 ** (level_dbfs / 20)).astype(np.float32)


def pink_noise(seconds: float, level_dbfs: float, seed: int = 0) -> FloatArray:
    """1/f noise (like ventilation and traffic) with an RMS of `level_dbfs`."""
    count = int(seconds * RATE_HZ)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(count))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, count)
    return (noise / noise.std() * 10 ** (level_dbfs / 20)).astype(np.float32)


NOISES = {"white": white_noise, "pink": pink_noise}


def run_vad(
    samples: FloatArray, config: VadConfig | None = None, chunk_len: int = 1600
) -> tuple[list[SpeechWindow], VoiceActivityDetector]:
    """All windows of `samples` (fed in `chunk_len` pieces, flushed at the end)."""
    vad = VoiceActivityDetector(config or VadConfig())
    windows: list[SpeechWindow] = []
    for start in range(0, len(samples), chunk_len):
        piece = samples[start : start + chunk_len]
        windows += vad.process(AudioChunk(piece, RATE_HZ, start * 1_000_000_000 // RATE_HZ))
    last = vad.flush()
    return windows + ([last] if last else []), vad


def test_real_speech_clip_is_speech_through_the_file_source() -> None:
    """A spoken sentence replayed like live input must reach the model, with its own samples."""
    samples = clip(SPEECH_CLIPS[0])
    vad = VoiceActivityDetector(VadConfig(window_ms=2000))  # two windows fit in the clip
    source = AudioFileSource(DATA / SPEECH_CLIPS[0])
    windows: list[SpeechWindow] = []
    while (chunk := source.read(0.0)) is not None:
        windows += vad.process(chunk)
    assert source.finished
    assert [w.ts_mono_ns for w in windows] == [0, 1_000_000_000]
    speech = [w for w in windows if w.speech]
    assert speech, [w.speech_ratio for w in windows]
    for window in speech:
        start = window.ts_mono_ns * RATE_HZ // 1_000_000_000
        assert window.window_s == 2.0
        np.testing.assert_array_equal(window.samples, samples[start : start + 2 * RATE_HZ])


def test_leading_room_tone_is_not_speech() -> None:
    """Breathing and room tone before a customer speaks must not be scored as emotion."""
    samples = clip(LATE_ONSET_CLIP)
    assert np.abs(samples[: RATE_HZ // 2]).max() < 0.01  # the premise: a quiet first 0.5 s
    windows, _ = run_vad(samples, VadConfig(window_ms=200, hop_ms=100))
    before = [w for w in windows if w.ts_mono_ns + 200_000_000 <= 500_000_000]
    during = [w for w in windows if 1.2e9 <= w.ts_mono_ns <= 2.4e9]
    assert len(before) == 4
    assert not any(w.speech for w in before), [w.speech_ratio for w in before]
    assert during and all(w.speech for w in during)
    reading = before[0].no_speech_reading()
    assert reading == VoiceReading(ts_mono_ns=0, window_s=0.2, speech=False, scores=None)
    assert before[0].samples.size == 0  # nothing kept of audio that will not be scored


@pytest.mark.parametrize("kind", sorted(NOISES))
@pytest.mark.parametrize("level_dbfs", [-65.0, -45.0, -25.0])
def test_noise_alone_is_not_speech(kind: str, level_dbfs: float) -> None:
    """Fans, hiss and traffic at any level must never look like a customer talking."""
    windows, vad = run_vad(NOISES[kind](20.0, level_dbfs))
    assert len(windows) == 19
    assert not any(w.speech for w in windows), [w.speech_ratio for w in windows]
    # Minimum statistics sit a little under the mean level: a few dB, never above it.
    assert level_dbfs - 10 < vad.noise_floor_dbfs < level_dbfs


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", sorted(NOISES))
def test_noise_getting_louder_is_not_speech(kind: str, seed: int) -> None:
    """A vacuum cleaner starting up outruns the floor for seconds; it must not look like speech."""
    noise = np.concatenate((NOISES[kind](3.0, -65.0, seed), NOISES[kind](10.0, -35.0, seed + 100)))
    windows, vad = run_vad(noise)
    assert not any(w.speech for w in windows), [w.speech_ratio for w in windows]
    assert vad.noise_floor_dbfs > -45.0  # and the floor has caught up by the end


@pytest.mark.parametrize("kind", sorted(NOISES))
@pytest.mark.parametrize("relative", SPEECH_CLIPS)
def test_speech_in_noise_at_10_db_snr_is_detected(relative: str, kind: str) -> None:
    """The floor follows a noisy store: speech 10 dB above it counts, the noise alone does not."""
    speech = clip(relative)
    lead_s = 4.0
    level_dbfs = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2)) - 10.0
    mixed = np.concatenate((np.zeros(int(lead_s * RATE_HZ), dtype=np.float32), speech))
    mixed += NOISES[kind](len(mixed) / RATE_HZ + 0.1, level_dbfs, seed=len(speech))[: len(mixed)]
    windows, _ = run_vad(mixed)
    noise_only = [w for w in windows if w.ts_mono_ns + 2e9 <= lead_s * 1e9]
    with_speech = [w for w in windows if w.ts_mono_ns >= lead_s * 1e9 - 1e9]
    assert len(noise_only) == 3
    assert not any(w.speech for w in noise_only), [w.speech_ratio for w in noise_only]
    assert any(w.speech for w in with_speech), [w.speech_ratio for w in with_speech]


def frame_flags(samples: FloatArray) -> list[bool]:
    """Whether the detector is inside speech after each 20 ms frame."""
    vad = VoiceActivityDetector(VadConfig())
    flags = []
    for start in range(0, len(samples) - 319, 320):
        vad.process(AudioChunk(samples[start : start + 320], RATE_HZ, start * 62_500))
        flags.append(vad.in_speech)
    return flags


def test_a_click_does_not_start_speech_and_a_pause_does_not_end_it() -> None:
    """Knocks must not open a window; a breath between words must not chop the sentence."""
    voiced = clip(LATE_ONSET_CLIP)[int(1.1 * RATE_HZ) : int(2.1 * RATE_HZ)]
    room = white_noise(2.0, -60.0)
    click = np.concatenate((room, voiced[:640], room))  # 40 ms, shorter than the 60 ms onset
    assert not any(frame_flags(click))
    pause = room[: int(0.2 * RATE_HZ)]
    sentence = np.concatenate((room, voiced[:8000], pause, voiced[8000:], room))
    flags = frame_flags(sentence)
    speech_frames = [i for i, flag in enumerate(flags) if flag]
    first, last = speech_frames[0], speech_frames[-1]
    assert 100 <= first <= 105  # starts within the onset time of the voice
    assert all(flags[first : last + 1])  # the 200 ms pause stayed inside the sentence
    assert 160 <= last <= 185  # ends within the 300 ms hangover after the voice
    assert not flags[-1]


@pytest.mark.parametrize("chunk_len", [160, 441, 1600, 5000])
def test_decisions_do_not_depend_on_chunk_size(chunk_len: int) -> None:
    """A recording replays exactly like live input, however the source cuts it into chunks."""
    samples = np.concatenate((pink_noise(1.5, -50.0), clip(SPEECH_CLIPS[1])))
    reference, _ = run_vad(samples, chunk_len=1600)
    windows, _ = run_vad(samples, chunk_len=chunk_len)
    assert [(w.ts_mono_ns, w.speech_ratio, w.speech) for w in windows] == [
        (w.ts_mono_ns, w.speech_ratio, w.speech) for w in reference
    ]
    for window, expected in zip(windows, reference, strict=True):
        np.testing.assert_array_equal(window.samples, expected.samples)


def test_calibrated_floor_raises_the_threshold() -> None:
    """Calibration sets the floor for a site: speech below its threshold is ignored."""
    speech = clip(SPEECH_CLIPS[0])
    quiet = speech * np.float32(10 ** (-15 / 20))  # about -35 dBFS while speaking
    calibrated = VoiceActivityDetector(VadConfig(noise_floor_dbfs=-30.0))
    adaptive = VoiceActivityDetector(VadConfig())
    chunk = AudioChunk(quiet, RATE_HZ, 0)
    assert not any(w.speech for w in calibrated.process(chunk))
    assert any(w.speech for w in adaptive.process(chunk))
    assert calibrated.noise_floor_dbfs == -30.0
    calibrated.set_noise_floor_db(None)
    assert calibrated.noise_floor_dbfs < -60.0  # back to the measured (studio) floor


def test_short_clip_is_flushed_as_one_shorter_window() -> None:
    """Clips shorter than a window (most nEMO sentences) still get a decision at the end."""
    samples = clip(SPEECH_CLIPS[3])
    windows, vad = run_vad(samples[: int(1.5 * RATE_HZ)])
    assert len(windows) == 1
    assert windows[0].window_s == 1.5
    assert windows[0].speech
    assert vad.flush() is None
    vad.reset()
    assert vad.noise_floor_dbfs == -np.inf
    assert not vad.in_speech


def test_wrong_sample_rate_is_refused() -> None:
    """Audio at another rate would silently shift every threshold and timestamp."""
    vad = VoiceActivityDetector(VadConfig())
    with pytest.raises(ValueError, match="16000"):
        vad.process(AudioChunk(np.zeros(800, dtype=np.float32), 8000, 0))


@pytest.mark.parametrize(
    "section",
    [
        {"window_ms": 2010},
        {"hop_ms": 3000},
        {"hangover_ms": 310},
        {"margin": 3},
    ],
)
def test_vad_config_refuses_inconsistent_timings(section: dict[str, int]) -> None:
    """Windows that do not fit whole frames would misplace timestamps; typos must not pass."""
    with pytest.raises(ValidationError):
        VadConfig.model_validate(section)


@pytest.mark.parametrize(
    "section",
    [{"sample_rate_hz": 48000}, {"reopen_min_s": 5, "reopen_max_s": 1}, {"device": [1]}],
)
def test_audio_config_refuses_bad_values(section: dict[str, object]) -> None:
    """Downstream stages rely on 16 kHz; a reversed backoff would spin on a missing device."""
    with pytest.raises(ValidationError):
        AudioConfig.model_validate(section)


def test_the_voice_path_scores_a_clip_shorter_than_a_window_when_the_recording_ends() -> None:
    """Replays of short utterances (CREMA-D clips are ~2 s) must still be heard once."""
    from edge.config import EdgeConfig
    from edge.inference.registry import ModelRegistry
    from edge.pipeline.build import build_voice_path

    path = build_voice_path(EdgeConfig(), ModelRegistry())
    samples = clip(SPEECH_CLIPS[3])[: int(1.5 * RATE_HZ)]
    step = RATE_HZ // 10
    readings = []
    for start in range(0, len(samples), step):
        chunk = AudioChunk(samples[start : start + step], RATE_HZ, start * 1_000_000_000 // RATE_HZ)
        readings += path.process(chunk)
    assert readings == []
    (last,) = path.flush()
    assert last.speech and last.window_s == 1.5 and last.scores is not None
    assert sum(last.scores.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert path.flush() == []
