"""Real audio-visual input: CREMA-D's original FLV clips (one actor's face and voice together).

libsndfile cannot open FLV; the audio track is decoded by FFmpeg through PyAV, then takes the
same path as every other recording.
"""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture.audio_decode import AudioFileError
from edge.capture.audio_file import AudioFileSource
from edge.config.audio import VadConfig
from edge.voice.vad import VoiceActivityDetector
from tests.broker import Mosquitto
from tests.collector import Collector
from tests.data_paths import DATA

REPO = Path(__file__).resolve().parents[1]
CLIP = "av/crema-d/1001_DFA_ANG_XX.flv"
CLIP_AUDIO_S = 2.2727  # 100,224 samples of 44.1 kHz MP3 in the FLV (ffprobe and PyAV agree)
CLIP_FRAMES = 67


def crema_clip() -> Path:
    """One original CREMA-D FLV clip, read in place."""
    path = DATA / CLIP
    if not path.is_file():
        pytest.skip(f"{CLIP} not found under {DATA} (set MOODSENSE_DATA)")
    return path


def test_flv_audio_track_decodes_to_16k_speech() -> None:
    """A video container's audio must arrive whole, at 16 kHz, and be speech the VAD hears."""
    source = AudioFileSource(crema_clip(), chunk_ms=100)
    chunks = []
    while (chunk := source.read(0.0)) is not None:
        chunks.append(chunk)
    assert source.finished
    audio = np.concatenate([c.samples for c in chunks])
    assert {c.sample_rate_hz for c in chunks} == {16000}
    assert len(audio) == pytest.approx(CLIP_AUDIO_S * 16000, abs=16)  # within 1 ms
    assert [c.ts_mono_ns for c in chunks] == [i * 100_000_000 for i in range(len(chunks))]
    assert float(np.max(np.abs(audio))) <= 1.0
    # Real speech, not silence or decoder noise: the detector finds a speech window in it.
    vad = VoiceActivityDetector(VadConfig(window_ms=2000))
    windows = [w for c in chunks for w in vad.process(c)]
    assert any(w.speech for w in windows)


def test_a_video_without_audio_track_is_refused(tmp_path: Path) -> None:
    """`--audio` pointing at a silent video must say why, not replay nothing."""
    video = tmp_path / "silent.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 15, (64, 48))
    for _ in range(5):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    with pytest.raises(AudioFileError, match="no audio track"):
        AudioFileSource(video)


def test_replay_of_a_crema_d_clip_publishes_its_interaction(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """`moodsense replay` on one FLV for both video and audio: the whole clip is processed and
    the interaction reaches the broker with face readings."""
    clip = crema_clip()
    collector = Collector(broker.port, "moodsense/v1/+/+/#")
    config = tmp_path / "edge.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}, tls: {{enabled: false}}}}\n"
    )
    events_file = tmp_path / "events.jsonl"
    command = [sys.executable, "-m", "edge", "replay", "--video", str(clip), "--audio", str(clip)]
    command += ["--consent", "granted", "--config", str(config), "--events", str(events_file)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    gate = json.loads(result.stdout.strip().splitlines()[-1])["gate"]
    assert gate["admitted_frames"] == CLIP_FRAMES
    assert gate["admitted_audio"] == int(np.ceil(CLIP_AUDIO_S * 10))  # 100 ms chunks
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    phases = [e["phase"] for e in events if e["schema"] == "interaction/1"]
    assert phases == ["start", "end"]
    moods = [e for e in events if e["schema"] == "mood/1"]
    assert moods and all(m["face"]["present"] for m in moods)
    collector.wait_for(lambda got: sum(m.topic.endswith("/mood") for m in got) >= len(moods))
    collector.close()
