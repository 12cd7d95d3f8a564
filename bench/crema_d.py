"""What the pipeline says about the six original CREMA-D clips (one actor's face and voice).

Usage: python bench/crema_d.py [--data DIR] [--json]

For each `1001_DFA_<EMO>_XX.flv` (the expected emotion is in the name), `moodsense replay
--video CLIP --audio CLIP --consent granted --events OUT` runs in a subprocess exactly as a user
would run it; its events give the fused mood states, whether voice and face took part, and the
interaction's peak-end summary. Beside that, to show what each modality reads on its own:
- face: the face path (detector, quality gate, expression model) on every frame, probabilities
  averaged over the scored frames;
- voice: the voice model on the whole decoded clip, scored as `moodsense eval voice` does. The
  clips (1.9-2.4 s) are shorter than the live path's 2.5 s analysis window: the replay hears
  only the last, partial window it flushes at the end, so this column is the model's reading
  of the whole clip, not the pipeline's.
Too few clips to measure accuracy; enough to show that real audio-visual input goes through.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_DATA = Path(os.environ.get("MOODSENSE_DATA", REPO.parent / "shared" / "data"))
EXPECTED = {
    "ANG": "angry",
    "DIS": "disgusted",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
STATE_LETTER = {"unknown": "?", "calm": "c", "positive": "p", "frustrated": "F", "upset": "U"}


def replay(clip: Path, work: Path) -> dict[str, Any]:
    """Run `moodsense replay` on the clip (video and audio); what it published."""
    config = work / "edge.yaml"
    config.write_text(f"state_dir: {work / 'state'}\n")
    events_file = work / "events.jsonl"
    command = [sys.executable, "-m", "edge", "replay", "--video", str(clip), "--audio", str(clip)]
    command += ["--consent", "granted", "--config", str(config), "--events", str(events_file)]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    gate = json.loads(out.stdout.strip().splitlines()[-1])["gate"]
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    moods = [e for e in events if e["schema"] == "mood/1"]
    end = next(e for e in events if e["schema"] == "interaction/1" and e["phase"] == "end")
    last = moods[-1]
    return {
        "frames": gate["admitted_frames"],
        "audio_chunks": gate["admitted_audio"],
        "states": "".join(STATE_LETTER.get(m["state"], "x") for m in moods),
        "voice_in_fusion": any(m["voice"]["present"] for m in moods),
        "face_in_fusion": any(m["face"]["present"] for m in moods),
        "last_mood_top": max(last["categories"], key=last["categories"].get),
        "last_mood_valence": last["valence"],
        "summary": end["summary"],
        "duration_s": end["duration_s"],
    }


def face_reading(clip: Path, face_path: Any) -> tuple[str, float, int, int]:
    """(top class, its mean probability, frames scored, frames) of the face path alone."""
    from edge.capture.video_file import VideoFileSource

    source = VideoFileSource(clip)
    scored: list[dict[str, float]] = []
    frames = 0
    while (frame := source.read(0.0)) is not None:
        frames += 1
        scored += [r.scores.probabilities for r in face_path.process(frame) if r.scores]
    face_path.reset()
    if not scored:
        return "none", 0.0, 0, frames
    mean = {label: float(np.mean([s[label] for s in scored])) for label in scored[0]}
    top = max(mean, key=mean.__getitem__)
    return top, mean[top], len(scored), frames


def voice_reading(clip: Path, voice_model: Any) -> tuple[str, float, float]:
    """(top class, its probability, seconds of audio) of the voice model on the whole clip."""
    from edge.capture.audio_file import AudioFileSource

    source = AudioFileSource(clip)
    samples = []
    while (chunk := source.read(0.0)) is not None:
        samples.append(chunk.samples)
    audio = np.concatenate(samples)
    probabilities = voice_model.score(audio).probabilities
    top = max(probabilities, key=probabilities.__getitem__)
    return top, probabilities[top], len(audio) / 16000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from edge.config import EdgeConfig
    from edge.inference.registry import ModelRegistry
    from edge.native_threads import limit_native_threads
    from edge.pipeline.build import build_face_path
    from edge.voice.emotion import VoiceEmotionModel

    limit_native_threads()
    clips = sorted((args.data / "av" / "crema-d").glob("*.flv"))
    if not clips:
        print(f"no CREMA-D FLV clips under {args.data / 'av' / 'crema-d'}", file=sys.stderr)
        return 1
    registry = ModelRegistry()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        face_path = build_face_path(EdgeConfig(state_dir=Path(tmp) / "faces"), registry)
        voice_model = VoiceEmotionModel(*registry.open("voice_emotion"))
        for clip in clips:
            work = Path(tmp) / clip.stem
            work.mkdir()
            face = face_reading(clip, face_path)
            voice = voice_reading(clip, voice_model)
            rows.append(
                {
                    "clip": clip.name,
                    "expected": EXPECTED[clip.stem.split("_")[2]],
                    "face_top": face[0],
                    "face_p": round(face[1], 2),
                    "face_frames_scored": f"{face[2]}/{face[3]}",
                    "voice_top": voice[0],
                    "voice_p": round(voice[1], 2),
                    "audio_s": round(voice[2], 2),
                    **replay(clip, work),
                }
            )
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
