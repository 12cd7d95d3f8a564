"""The live service: MQTT presence plus the pipeline on the kiosk's camera and microphone.

A kiosk without a camera or microphone says so in the log and in `health` (the source stays
`reopening` and is retried with backoff) and keeps running: devices get plugged in late.
"""

import logging
import threading

from edge.app import EdgeService
from edge.appliance.sdnotify import SystemdNotifier, watchdog_interval_s
from edge.appliance.state_log import log_consent_change
from edge.appliance.watchdog import Probe, ProgressWatchdog
from edge.capture.base import AudioSource, VideoSource
from edge.capture.video import CameraSource
from edge.config import EdgeConfig, Secrets
from edge.pipeline.build import build_pipeline
from edge.pipeline.runner import PipelineRunner, Sources
from edge.pipeline.survey import PublishingSurveySink
from edge.web.service import start_web

logger = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0
DEVICE_GRACE_S = 3.0


def open_live_sources(config: EdgeConfig) -> Sources:
    """Start the configured devices; each one retries by itself until it appears."""
    video: VideoSource | None = None
    audio: AudioSource | None = None
    if config.inputs.camera:
        video = CameraSource(config.camera)
    else:
        logger.info("Camera disabled (inputs.camera: false): no face sensing")
    if config.inputs.microphone:
        from edge.capture.audio import MicrophoneSource

        audio = MicrophoneSource(config.audio)
    else:
        logger.info("Microphone disabled (inputs.microphone: false): no voice sensing")
    return Sources(video=video, audio=audio)


def _report_missing(sources: Sources) -> None:
    """Say plainly which device is not there (called after a grace period; they retry)."""
    for source in (sources.video, sources.audio):
        if source is not None and source.health().state != "ok":
            logger.warning(
                "No %s found yet (%s): sensing from it is off until it appears; retrying",
                source.health().kind,
                source.health().name,
            )


def _start_watchdog(runner: PipelineRunner, sources: Sources) -> ProgressWatchdog | None:
    """Tell systemd we are ready and feed its watchdog while the pipeline progresses."""
    notifier = SystemdNotifier()
    notifier.ready("running")
    interval_s = watchdog_interval_s()
    if interval_s is None:
        return None
    probes: dict[str, Probe] = {"pipeline": lambda: runner.iterations}
    if isinstance(sources.video, CameraSource):
        camera = sources.video
        probes["camera"] = lambda: camera.heartbeat
    watchdog = ProgressWatchdog(notifier, interval_s, probes)
    watchdog.start()
    return watchdog


class LiveService:
    """The whole device: built first (every error that stops the start is raised here), then
    run until a stop is requested."""

    def __init__(self, config: EdgeConfig, secrets: Secrets) -> None:
        self._config = config
        self.service = EdgeService(config, secrets)
        self.pipeline = build_pipeline(
            config, self.service, face=config.inputs.camera, voice=config.inputs.microphone
        )
        self.service.pipeline = self.pipeline.runner.meter
        self.pipeline.publisher.add_listener(log_consent_change)
        self.web = start_web(
            config.web,
            self.pipeline.actions,
            self.pipeline.publisher,
            survey=PublishingSurveySink(self.service),
            device=(config, secrets),  # broker settings for the store view (web.store_view)
        )

    def run(self, stop: threading.Event, sources: Sources | None = None) -> None:
        """Open the devices (or use `sources`), run the pipeline and MQTT presence until
        `stop`, shut down."""
        runner, publisher, service = self.pipeline.runner, self.pipeline.publisher, self.service
        if sources is None:
            sources = open_live_sources(self._config)
        service.sources += [s for s in (sources.video, sources.audio) if s is not None]
        service.start()
        loop = threading.Thread(target=runner.run_live, args=(sources, stop), name="pipeline")
        loop.start()
        watchdog = _start_watchdog(runner, sources)
        if not stop.wait(DEVICE_GRACE_S):
            _report_missing(sources)
        service.serve(stop)
        SystemdNotifier().stopping()
        if self.web is not None:
            self.web.stop()
        if watchdog is not None:
            watchdog.stop()
        loop.join(JOIN_TIMEOUT_S)
        for source in (sources.video, sources.audio):
            if source is not None:
                source.close()
        publisher.close()
        service.shutdown()
