"""Build the perception paths, engine and runner from the config and the verified models.

Every model comes from the registry (sha256 checked); a model the pipeline needs but the
manifest lacks is a `ModelError`, which `moodsense` reports in one line with exit code 2.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from edge.app import EdgeService
from edge.calibration.profile import CalibrationProfile, load_profile
from edge.config import EdgeConfig
from edge.config.paths import StatePaths
from edge.consent.gate import ConsentGate
from edge.consent.ledger import ConsentLedger
from edge.face.detector import create_detector
from edge.face.expression import FaceExpressionModel
from edge.face.landmarks import FaceLandmarker
from edge.face.quality import QualityGate
from edge.face.tracker import FaceTracker
from edge.inference.registry import ModelRegistry
from edge.mood.baseline import BaselineSketch
from edge.mood.engine import ConsentUpdate, MoodEngine
from edge.pipeline.actions import KioskActions
from edge.pipeline.face_path import FacePath
from edge.pipeline.publishing import OutputPublisher
from edge.pipeline.runner import PipelineRunner
from edge.pipeline.voice_path import VoicePath
from edge.voice.emotion import VoiceEmotionModel
from edge.voice.vad import VoiceActivityDetector
from edge.voice.warmup import warm_up

logger = logging.getLogger(__name__)


def build_face_path(
    config: EdgeConfig, registry: ModelRegistry, profile: CalibrationProfile | None = None
) -> FacePath:
    """Detector, tracker, landmarks, quality gate and expression model."""
    face = config.face
    if profile is not None and profile.settings.face_min_px is not None:
        face = face.model_copy(update={"min_face_px": profile.settings.face_min_px})
    threads = config.models.num_threads
    spec, model = registry.open("face_expression", threads)
    return FacePath(
        detector=create_detector(face, registry.verify("face_detection").path, threads),
        tracker=FaceTracker(face),
        quality=QualityGate(face),
        expression=FaceExpressionModel(spec, model),
        landmarker=FaceLandmarker(registry.verify("face_landmark").path, num_threads=threads),
    )


def build_voice_path(
    config: EdgeConfig, registry: ModelRegistry, profile: CalibrationProfile | None = None
) -> VoicePath:
    """VAD (with the calibrated noise floor, if any) and the voice-emotion model."""
    vad = VoiceActivityDetector(config.vad)
    if config.vad.noise_floor_dbfs is None and profile is not None:
        vad.set_noise_floor_db(profile.settings.vad_noise_floor_dbfs)
    spec, model = registry.open("voice_emotion", config.models.num_threads)
    warm_up()  # compile and load now, not when the first customer speaks
    return VoicePath(vad, VoiceEmotionModel(spec, model))


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The built pipeline: its loop, its publisher and the actions screens and commands use."""

    runner: PipelineRunner
    publisher: OutputPublisher
    actions: KioskActions


def build_pipeline(
    config: EdgeConfig,
    service: EdgeService,
    *,
    face: bool,
    voice: bool,
    events_file: Path | None = None,
) -> Pipeline:
    """The whole pipeline around `service` (which publishes); registers its commands."""
    paths = StatePaths.of(config)
    profile = load_profile(paths.calibration)
    gate = ConsentGate(
        mode=config.consent.mode,
        grant_timeout_s=config.consent.grant_timeout_s,
        max_interaction_s=config.consent.max_interaction_s,
    )
    baseline = BaselineSketch.load(paths.baseline, config.mood.baseline_half_life_samples)
    engine = MoodEngine(gate, config.mood, baseline)
    publisher = OutputPublisher(
        service,
        ConsentLedger(paths.ledger),
        time.time,
        events_file,
        baseline=(baseline, paths.baseline),
    )
    publisher.publish([_startup(gate)])
    actions = KioskActions(engine, publisher)
    for spec in actions.command_specs():
        service.commands.register(spec)
    runner = PipelineRunner(
        engine,
        publisher,
        build_face_path(config, service.registry, profile) if face else None,
        build_voice_path(config, service.registry, profile) if voice else None,
        lock=actions.lock,
    )
    return Pipeline(runner, publisher, actions)


def _startup(gate: ConsentGate) -> ConsentUpdate:
    """The consent state at start, published (retained) and written to the ledger."""
    return ConsentUpdate(gate.start(time.monotonic()))
