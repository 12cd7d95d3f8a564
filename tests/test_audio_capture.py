"""Audio capture: recordings through the live path, and a microphone that comes and goes."""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr

from edge.capture.audio import MicrophoneSource
from edge.capture.audio_decode import AudioFileError
from edge.capture.audio_file import AudioFileSource
from edge.capture.backoff import Backoff
from edge.capture.base import AudioSource
from edge.config.audio import AudioConfig, VadConfig
from edge.types import AudioChunk, FloatArray
from edge.voice.vad import SpeechWindow, VoiceActivityDetector
from tests.data_paths import DATA

RATE_HZ = 16000
ALSA_CONF = Path("/usr/share/alsa/alsa.conf")
CLIP = "speech/ravdess/Actor_01/03-01-05-02-01-01-01.flac"


def data_file(relative: str) -> Path:
    """A real recording from the shared data, read in place (never copied into the repo)."""
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"{relative} not found under {DATA} (set MOODSENSE_DATA)")
    return path


def real_clip() -> FloatArray:
    """A 16 kHz RAVDESS sentence as float32."""
    samples, rate_hz = sf.read(data_file(CLIP), dtype="float32")
    assert rate_hz == RATE_HZ
    return np.asarray(samples, dtype=np.float32)


def read_all(source: AudioSource) -> list[AudioChunk]:
    """Every chunk until the source reports it has finished."""
    chunks = []
    while not source.finished:
        chunk = source.read(1.0)
        assert chunk is not None
        chunks.append(chunk)
    return chunks


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Waits for a condition another thread makes true, failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        pause.wait(0.002)


# --- the file source --------------------------------------------------------------------


def test_file_source_resamples_and_downmixes_44k_stereo(tmp_path: Path) -> None:
    """Any recording must arrive as 16 kHz mono, with its length and content intact."""
    clip = real_clip()
    left = soxr.resample(clip, RATE_HZ, 44100)
    wav = tmp_path / "stereo44k.wav"
    sf.write(wav, np.stack((left, np.zeros_like(left)), axis=1), 44100, subtype="FLOAT")
    chunks = read_all(AudioFileSource(wav, chunk_ms=100))
    assert all(c.sample_rate_hz == RATE_HZ and c.samples.dtype == np.float32 for c in chunks)
    assert {len(c.samples) for c in chunks[:-1]} == {1600}
    assert [c.ts_mono_ns for c in chunks] == [i * 100_000_000 for i in range(len(chunks))]
    audio = np.concatenate([c.samples for c in chunks])
    assert abs(len(audio) - len(clip)) <= 2
    count = min(len(audio), len(clip))
    # The channels are averaged (the right one is silent), not the first one taken.
    gain = np.dot(audio[:count], clip[:count]) / np.dot(clip[:count], clip[:count])
    assert gain == pytest.approx(0.5, abs=0.01)
    assert np.corrcoef(audio[:count], clip[:count])[0, 1] > 0.999


def test_file_source_16k_is_bit_exact_and_finishes() -> None:
    """A 16 kHz recording replays sample for sample, then says it has finished."""
    source = AudioFileSource(data_file(CLIP), chunk_ms=250, start_ts_mono_ns=7)
    assert source.health().state == "ok"
    chunks = read_all(source)
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), real_clip())
    assert chunks[1].ts_mono_ns == 7 + 250_000_000
    assert source.read(0.0) is None
    assert source.health().state == "stopped"
    source.close()


@pytest.mark.parametrize(
    "relative",
    ["speech/nemo/samples/EB0_anger_1.ogg", "av/crema-d/1002_DFA_ANG_XX.mp3"],
)
def test_file_source_reads_ogg_and_mp3(relative: str) -> None:
    """nEMO ships Opus in OGG and CREMA-D 44.1 kHz MP3: both must replay at 16 kHz."""
    path = data_file(relative)
    duration_s = sf.info(path).duration
    chunks = read_all(AudioFileSource(path))
    total = sum(len(c.samples) for c in chunks)
    assert total == pytest.approx(duration_s * RATE_HZ, abs=2)


def test_file_source_realtime_paces_like_a_microphone() -> None:
    """Realtime replay must take as long as the recording, chunk by chunk, without real sleeps."""
    now_ns = [1_000]
    slept_s: list[float] = []

    def sleep(seconds: float) -> None:
        slept_s.append(seconds)
        now_ns[0] += round(seconds * 1e9)

    source = AudioFileSource(
        data_file(CLIP), realtime=True, clock_ns=lambda: now_ns[0], sleep_s=sleep
    )
    first = source.read(0.05)
    assert first is not None and not slept_s  # the first chunk is due at once
    assert source.read(0.05) is None  # the next is 100 ms away: wait 50 ms, keep it
    second = source.read(0.1)
    assert second is not None and second.ts_mono_ns == 100_000_000
    assert sum(slept_s) == pytest.approx(0.1)
    rest = read_all(source)
    assert (now_ns[0] - 1_000) / 1e9 == pytest.approx(rest[-1].ts_mono_ns / 1e9, abs=1e-6)


def test_file_source_refuses_a_file_that_is_not_audio(tmp_path: Path) -> None:
    """A wrong path in an evaluation manifest must fail loudly, not replay silence."""
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio")
    with pytest.raises(AudioFileError, match="neither libsndfile nor FFmpeg"):
        AudioFileSource(bogus)


# --- the microphone, against a fake device ----------------------------------------------


@dataclass
class _TimeInfo:
    inputBufferAdcTime: float  # PortAudio's names
    currentTime: float


@dataclass
class _Flags:
    input_overflow: bool = False


class FakeStream:
    """One open stream of the fake device; the test plays PortAudio's callback thread."""

    def __init__(self, samplerate: float, callback: Any, finished_callback: Any) -> None:
        self.samplerate = samplerate
        self.active = False
        self.closed = False
        self._callback = callback
        self._finished_callback = finished_callback

    def start(self) -> None:
        """Starts the stream."""
        self.active = True

    def close(self) -> None:
        """Closes the stream."""
        self.active = False
        self.closed = True

    def feed(self, samples: FloatArray, overflow: bool = False, age_s: float = 0.0) -> None:
        """Delivers one block, `age_s` after its first sample reached the converter."""
        info = _TimeInfo(inputBufferAdcTime=100.0 - age_s, currentTime=100.0)
        self._callback(samples.reshape(-1, 1), len(samples), info, _Flags(overflow))

    def fail(self) -> None:
        """The device went away: PortAudio stops the stream and says so."""
        self.active = False
        self._finished_callback()


class FakeDevice:
    """A microphone that can be unplugged; it is the stream factory the source is given."""

    def __init__(self, rates_hz: tuple[int, ...] = (RATE_HZ,)) -> None:
        self.present = True
        self.rates_hz = rates_hz
        self.streams: list[FakeStream] = []
        self.attempts_s: list[float] = []
        self.requests: list[dict[str, Any]] = []
        self.changed = threading.Condition()

    def __call__(self, **kwargs: Any) -> FakeStream:
        """Opens a stream like `sounddevice.InputStream`, or fails the way PortAudio does."""
        with self.changed:
            self.attempts_s.append(time.monotonic())
            self.requests.append(kwargs)
            self.changed.notify_all()
            if not self.present:
                raise OSError("Error opening InputStream: Device unavailable [PaErrorCode -9985]")
            rate_hz = kwargs["samplerate"] or self.rates_hz[0]
            if rate_hz not in self.rates_hz:
                raise OSError("Error opening InputStream: Invalid sample rate [-9997]")
            stream = FakeStream(rate_hz, kwargs["callback"], kwargs["finished_callback"])
            self.streams.append(stream)
            return stream

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
        """Waits until an open attempt makes `condition` true."""
        with self.changed:
            assert self.changed.wait_for(condition, timeout_s), "device condition not reached"


def mic_config(**overrides: Any) -> AudioConfig:
    """Fast backoff for tests; everything else as configured in the field."""
    values: dict[str, Any] = {"reopen_min_s": 0.02, "reopen_max_s": 0.08, "stall_timeout_s": 30}
    return AudioConfig.model_validate(values | overrides)


@pytest.fixture
def device() -> FakeDevice:
    """A present 16 kHz fake microphone."""
    return FakeDevice()


@pytest.fixture
def open_mic(device: FakeDevice) -> Iterator[tuple[MicrophoneSource, FakeStream]]:
    """A microphone source whose first stream is running."""
    mic = MicrophoneSource(mic_config(), stream_factory=device)
    wait_until(lambda: mic.health().state == "ok")
    yield mic, device.streams[0]
    mic.close()


def test_microphone_delivers_the_device_audio_stamped(
    open_mic: tuple[MicrophoneSource, FakeStream], device: FakeDevice
) -> None:
    """Chunks carry the device's samples and the capture time of their first sample."""
    mic, stream = open_mic
    assert device.requests[0]["samplerate"] == RATE_HZ
    assert device.requests[0]["blocksize"] == 1600
    blocks = real_clip()[: 3 * 1600].reshape(3, 1600)
    before_ns = time.monotonic_ns()
    for block in blocks:
        stream.feed(block, age_s=0.05)
    after_ns = time.monotonic_ns()
    chunks = [mic.read(1.0) for _ in blocks]
    for chunk, block in zip(chunks, blocks, strict=True):
        assert chunk is not None
        np.testing.assert_array_equal(chunk.samples, block)
        assert before_ns - 50_000_000 <= chunk.ts_mono_ns <= after_ns - 50_000_000
    assert mic.read(0.0) is None
    assert mic.health().state == "ok"
    assert mic.health().rate_hz > 0
    assert mic.health().dropped_total == 0


def test_stamps_follow_the_sample_count_through_callback_jitter(device: FakeDevice) -> None:
    """Callback jitter must not jitter timestamps, while lost audio must show as a gap."""
    start_ns = 50_000_000_000
    now_ns = [start_ns]
    mic = MicrophoneSource(mic_config(), stream_factory=device, clock_ns=lambda: now_ns[0])
    wait_until(lambda: mic.health().state == "ok")
    block = real_clip()[:1600]
    # Blocks end every 100 ms, reported up to 12 ms late; then 400 ms of audio goes missing.
    for arrival_ms in (100, 207, 296, 412, 900):
        now_ns[0] = start_ns + arrival_ms * 1_000_000
        device.streams[0].feed(block)  # no usable PortAudio timing: the block just ended
    stamps_ms = []
    while (chunk := mic.read(0.0)) is not None:
        stamps_ms.append((chunk.ts_mono_ns - start_ns) / 1e6)
    assert stamps_ms == [0, 100, 200, 300, 800]
    mic.close()


def speech_windows(chunks: list[AudioChunk]) -> list[tuple[int, float, bool, int]]:
    """The VAD's windows for `chunks`: start, speech ratio, decision, sample count."""
    vad = VoiceActivityDetector(VadConfig())
    windows: list[SpeechWindow] = []
    for chunk in chunks:
        windows += vad.process(chunk)
    return [(w.ts_mono_ns, w.speech_ratio, w.speech, len(w.samples)) for w in windows]


def test_live_capture_and_replay_give_the_same_speech_windows(device: FakeDevice) -> None:
    """A recording replays exactly like the same audio spoken into the microphone."""
    clip = real_clip()
    blocks = clip[: len(clip) // 1600 * 1600].reshape(-1, 1600)
    now_ns = [0]
    mic = MicrophoneSource(mic_config(), stream_factory=device, clock_ns=lambda: now_ns[0])
    wait_until(lambda: mic.health().state == "ok")
    live = []
    for index, block in enumerate(blocks):
        now_ns[0] = (index + 1) * 100_000_000  # each block ends 100 ms after the previous one
        device.streams[0].feed(block)
        chunk = mic.read(1.0)
        assert chunk is not None
        live.append(chunk)
    mic.close()
    replayed = read_all(AudioFileSource(data_file(CLIP)))[: len(blocks)]
    assert speech_windows(live) == speech_windows(replayed)
    assert any(speech for _, _, speech, _ in speech_windows(live))


def test_microphone_counts_overflow_instead_of_failing(device: FakeDevice) -> None:
    """A stalled pipeline or a driver overrun loses audio, counted in health, never a crash."""
    mic = MicrophoneSource(mic_config(ring_buffer_s=0.3), stream_factory=device)
    wait_until(lambda: mic.health().state == "ok")
    blocks = real_clip()[: 5 * 1600].reshape(5, 1600)
    for index, block in enumerate(blocks):
        device.streams[0].feed(block, overflow=index == 4)
    kept = [mic.read(0.0) for _ in range(4)]
    assert kept[3] is None  # the ring holds 0.3 s: the two oldest chunks were pushed out
    for chunk, block in zip(kept[:3], blocks[2:], strict=True):
        assert chunk is not None
        np.testing.assert_array_equal(chunk.samples, block)
    assert mic.health().dropped_total == 3  # two pushed out, one overrun reported by the driver
    mic.close()


def test_lost_microphone_is_reopened_with_backoff(device: FakeDevice) -> None:
    """An unplugged USB microphone comes back on its own; meanwhile health says `reopening`."""
    mic = MicrophoneSource(mic_config(), stream_factory=device)
    wait_until(lambda: mic.health().state == "ok")
    device.present = False
    device.streams[0].fail()
    device.wait_for(lambda: len(device.attempts_s) >= 6)
    assert mic.health().state == "reopening"
    assert mic.read(0.0) is None
    assert device.streams[0].closed
    # Each failed attempt (a 16 kHz try and a probe at the device's own rate) waits longer.
    gaps_s = np.diff(device.attempts_s[1:6:2])
    assert gaps_s[0] >= 0.04 * 0.95 and gaps_s[1] >= 0.08 * 0.95
    device.present = True
    wait_until(lambda: mic.health().state == "ok")
    assert len(device.streams) == 2 and device.streams[1].active
    device.streams[1].feed(real_clip()[:1600])
    chunk = mic.read(1.0)
    assert chunk is not None and len(chunk.samples) == 1600
    mic.close()
    assert mic.health().state == "stopped"
    assert device.streams[1].closed


def test_silent_stream_counts_as_lost(device: FakeDevice) -> None:
    """A device that stops delivering without an error is reopened too."""
    mic = MicrophoneSource(mic_config(stall_timeout_s=0.05), stream_factory=device)
    device.wait_for(lambda: len(device.streams) >= 2)
    assert device.streams[0].closed
    mic.close()


def test_device_without_16k_is_resampled() -> None:
    """Many USB microphones only open at 44.1 or 48 kHz; the pipeline still gets 16 kHz."""
    device = FakeDevice(rates_hz=(48000,))
    mic = MicrophoneSource(mic_config(), stream_factory=device)
    wait_until(lambda: mic.health().state == "ok")
    stream = device.streams[-1]
    assert stream.samplerate == 48000 and device.requests[-1]["blocksize"] == 4800
    audio48k = soxr.resample(real_clip()[: 8 * 1600], RATE_HZ, 48000)
    for block in audio48k.reshape(8, 4800):
        stream.feed(block.astype(np.float32))
    chunks = []
    while (chunk := mic.read(0.0)) is not None:
        chunks.append(chunk)
    assert all(c.sample_rate_hz == RATE_HZ for c in chunks)
    total = sum(len(c.samples) for c in chunks)
    assert 7 * 1600 <= total <= 8 * 1600  # soxr holds back a few milliseconds
    mic.close()


def test_close_interrupts_a_long_backoff(device: FakeDevice) -> None:
    """Stopping the service must not wait for the next reopen attempt of a missing device."""
    device.present = False
    mic = MicrophoneSource(mic_config(reopen_min_s=30, reopen_max_s=60), stream_factory=device)
    device.wait_for(lambda: len(device.attempts_s) >= 2)
    started_s = time.monotonic()
    mic.close()
    assert time.monotonic() - started_s < 2.0
    assert mic.health().state == "stopped"
    assert mic.read(0.0) is None


def test_backoff_doubles_up_to_the_limit_and_resets() -> None:
    """Retries of a missing device must slow down, but not beyond the configured maximum."""
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next_delay_s() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay_s() == 0.5


# --- the real sounddevice path, against a virtual ALSA capture device ------------------

# An ALSA `file` plugin over the `null` device captures the raw samples of `infile`, behind a
# `plug` that converts to whatever PortAudio asks for. The null device is not paced: it delivers
# far faster than real time; the child reads nothing until the ring has overflowed.
_VIRTUAL_MIC_CONF = """
<{alsa_conf}>
pcm.moodsense_virtual_raw {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
pcm.moodsense_virtual_mic {{
    type plug
    slave {{ pcm "moodsense_virtual_raw" format S16_LE rate 16000 channels 1 }}
    hint {{ show on description "moodsense test microphone" }}
}}
"""

# Runs in a child process: PortAudio reads the ALSA configuration once, at import.
_VIRTUAL_MIC_RUN = """
import json, sys, time
import sounddevice
from edge.capture.audio import MicrophoneSource
from edge.config.audio import AudioConfig

names = [d["name"] for d in sounddevice.query_devices() if d["max_input_channels"] > 0]
if "moodsense_virtual_mic" not in names:
    print(json.dumps({"missing": names}))
    sys.exit(0)
mic = MicrophoneSource(AudioConfig(device="moodsense_virtual_mic", ring_buffer_s=1.0))
# Nobody reads yet: once a second of audio is buffered, the oldest must be dropped and counted.
deadline = time.monotonic() + 20
while mic.health().dropped_total == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
chunks = []
while len(chunks) < 20 and time.monotonic() < deadline:
    chunk = mic.read(1.0)
    if chunk is not None:
        chunks.append(chunk)
health = mic.health()
started = time.monotonic()
mic.close()
print(json.dumps({
    "lengths": sorted({len(c.samples) for c in chunks}),
    "rates": sorted({c.sample_rate_hz for c in chunks}),
    "dtypes": sorted({str(c.samples.dtype) for c in chunks}),
    "peak": max(float(abs(c.samples).max()) for c in chunks),
    "ts_increasing": all(a.ts_mono_ns < b.ts_mono_ns for a, b in zip(chunks, chunks[1:])),
    "ts_recent": time.monotonic_ns() - chunks[-1].ts_mono_ns < 30e9,
    "health": health.model_dump(),
    "close_s": time.monotonic() - started,
    "after_close": mic.health().state,
}))
"""


def test_microphone_captures_from_a_real_alsa_device(tmp_path: Path) -> None:
    """The real PortAudio path: device by name, callback, ring, health and close, end to end."""
    if not ALSA_CONF.is_file():
        pytest.skip(f"no ALSA configuration at {ALSA_CONF}")
    infile = tmp_path / "mic.raw"  # a test fixture in tmp_path, deleted with it
    (real_clip() * 32767).astype("<i2").tofile(infile)
    conf = tmp_path / "asound.conf"
    conf.write_text(_VIRTUAL_MIC_CONF.format(alsa_conf=ALSA_CONF, infile=infile))
    env = os.environ | {"ALSA_CONFIG_PATH": str(conf)}
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _VIRTUAL_MIC_RUN],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "PortAudio library not found" in done.stderr:
        pytest.skip("libportaudio2 is not installed (scripts/setup.sh installs it)")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "missing" in result:
        pytest.skip(f"ALSA did not offer the virtual device; inputs: {result['missing']}")
    assert result["lengths"] == [1600] and result["rates"] == [RATE_HZ]
    assert result["dtypes"] == ["float32"] and result["peak"] <= 1.0
    assert result["ts_increasing"] and result["ts_recent"]
    assert result["health"]["state"] == "ok" and result["health"]["kind"] == "microphone"
    assert result["health"]["dropped_total"] > 0  # a stalled reader: counted, not fatal
    assert result["close_s"] < 2.0 and result["after_close"] == "stopped"
