"""`moodsense replay` and `moodsense calibrate`: the pipeline on recordings or the room."""

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.config import ConfigError, EdgeConfig, load_config, load_secrets, resolve_state_dir
from edge.events.ids import coarse_utc
from edge.inference.registry import ModelError

if TYPE_CHECKING:  # the capture modules pull in OpenCV and libsndfile: only when used
    from edge.capture.base import AudioSource, VideoSource

logger = logging.getLogger(__name__)
EXIT_USAGE = 2


def add_pipeline_parsers(commands: Any) -> None:
    """Register `replay` and `calibrate` on the top-level subparsers."""
    replay = commands.add_parser("replay", help="run the pipeline on recordings")
    replay.add_argument("--video", type=Path, help="video file, image folder or glob")
    replay.add_argument(
        "--audio",
        type=Path,
        help="audio file, or a video whose audio track to use (WAV, FLAC, OGG, MP3; FLV, MP4 "
        "and other containers through FFmpeg), any rate and channels",
    )
    replay.add_argument("--config", type=Path, help="YAML config (default: built-in)")
    replay.add_argument("--events", type=Path, help="also append every event as JSON lines")
    replay.add_argument("--consent", choices=["granted", "none"], default="none")
    replay.add_argument("--realtime", action="store_true", help="pace like live input")
    replay.add_argument("--fps", type=float, default=15.0, help="image sequences only")
    replay.set_defaults(func=_cmd_replay)

    calibrate = commands.add_parser("calibrate", help="measure the kiosk's room and light")
    calibrate.add_argument("--config", type=Path)
    calibrate.add_argument("--seconds", type=float, default=10.0)
    calibrate.add_argument("--audio", type=Path, help="measure a recording instead of the mic")
    calibrate.add_argument("--video", type=Path, help="measure a recording instead of the camera")
    calibrate.add_argument("--out", type=Path, help="profile path (default: state dir)")
    calibrate.set_defaults(func=_cmd_calibrate)


def _video_source(path: Path, fps: float, realtime: bool) -> "VideoSource":
    from edge.capture.video_file import ImageSequenceSource, VideoFileSource

    if path.is_dir() or any(ch in str(path) for ch in "*?["):
        return ImageSequenceSource(path, fps, realtime=realtime)
    return VideoFileSource(path, realtime=realtime)


def _open_sources(
    args: argparse.Namespace, realtime: bool
) -> "tuple[VideoSource | None, AudioSource | None]":
    from edge.capture.audio_file import AudioFileSource

    video = _video_source(args.video, getattr(args, "fps", 15.0), realtime) if args.video else None
    audio = AudioFileSource(args.audio, realtime=realtime) if args.audio else None
    return video, audio


def _load(args: argparse.Namespace) -> EdgeConfig:
    from edge.logsetup import configure_logging
    from edge.voice.warmup import use_state_caches

    config = load_config(args.config)
    configure_logging(config.logging.level)
    use_state_caches(resolve_state_dir(config))
    return config


def _cmd_replay(args: argparse.Namespace) -> int:
    from edge.app import EdgeService
    from edge.pipeline.build import build_pipeline
    from edge.pipeline.runner import Sources

    if args.video is None and args.audio is None:
        print("replay: give --video, --audio or both", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = _load(args)
        service = EdgeService(config, load_secrets(config))
        video, audio = _open_sources(args, args.realtime)
        pipeline = build_pipeline(
            config,
            service,
            face=video is not None,
            voice=audio is not None,
            events_file=args.events,
        )
    except (ConfigError, ModelError, OSError, ValueError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    runner, publisher = pipeline.runner, pipeline.publisher
    service.start()
    if args.consent == "granted":
        publisher.publish(runner.engine.grant("kiosk", 0.0))
    runner.run_recordings(Sources(video=video, audio=audio))
    publisher.close()
    service.shutdown()
    gate = asdict(runner.engine.gate.counters)
    quality = runner.face_quality()
    faces = None if quality is None else quality.model_dump()
    print(json.dumps({"published": publisher.published, "gate": gate, "faces": faces}))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from edge.calibration.measure import measure_audio, measure_video
    from edge.calibration.profile import build_profile, save_profile
    from edge.config.paths import StatePaths
    from edge.face.detector import create_detector

    try:
        config = _load(args)
        video, audio = _open_sources(args, realtime=False)
    except (ConfigError, OSError, ValueError) as error:
        print(f"calibrate: {error}", file=sys.stderr)
        return EXIT_USAGE
    video, audio = video or _live_camera(config), audio or _live_microphone(config)
    audio_stats = measure_audio(audio, args.seconds) if audio else None
    detector = create_detector(config.face)
    video_stats = (
        measure_video(video, detector, int(args.seconds * config.camera.fps)) if video else None
    )
    profile = build_profile(audio_stats, video_stats, config.face, coarse_utc(time.time()))
    out = args.out or StatePaths.of(config).calibration
    save_profile(profile, out)
    print(profile.model_dump_json(indent=2))
    print(f"calibration profile written to {out}", file=sys.stderr)
    return 0


def _live_camera(config: EdgeConfig) -> "VideoSource | None":
    from edge.capture.video import CameraSource

    return CameraSource(config.camera) if config.inputs.camera else None


def _live_microphone(config: EdgeConfig) -> "AudioSource | None":
    from edge.capture.audio import MicrophoneSource

    return MicrophoneSource(config.audio) if config.inputs.microphone else None
