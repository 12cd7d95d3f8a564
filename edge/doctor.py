"""`moodsense doctor`: check what a kiosk needs and say how to fix what is wrong.

Each check returns a `Finding`; the command prints one line per finding and exits 1 if any
check failed (warnings do not fail). It opens the devices briefly and reads nothing else.
"""

import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from edge.config import EdgeConfig, resolve_state_dir
from edge.config.paths import StatePaths
from edge.inference.registry import DEFAULT_MODELS_DIR, ModelError, ModelRegistry

Status = Literal["ok", "warn", "fail"]
MIN_FREE_MB = 200


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome, with the fix when it is not ok."""

    status: Status
    check: str
    detail: str
    fix: str = ""


def check_models(config: EdgeConfig) -> Finding:
    """Every model in the manifest is present and matches its sha256."""
    try:
        specs = ModelRegistry(config.models.dir or DEFAULT_MODELS_DIR).verify_all()
    except ModelError as exc:
        return Finding("fail", "models", str(exc), "reinstall the models or restore the manifest")
    names = ", ".join(s.name for s in specs)
    missing = {"face_expression", "voice_emotion"} - {s.name for s in specs}
    if missing:
        return Finding(
            "warn",
            "models",
            f"verified {names}; no {', '.join(sorted(missing))}",
            "install a release whose models/manifest.toml lists them",
        )
    return Finding("ok", "models", f"verified {names}")


def check_camera(config: EdgeConfig) -> Finding:
    """The configured camera opens and delivers a frame."""
    if not config.inputs.camera:
        return Finding("ok", "camera", "disabled (inputs.camera: false)")
    import cv2

    capture = cv2.VideoCapture(config.camera.device)
    try:
        ok = capture.isOpened() and capture.read()[0]
    finally:
        capture.release()
    if ok:
        return Finding("ok", "camera", f"device {config.camera.device} delivers frames")
    return Finding(
        "warn",
        "camera",
        f"no frames from device {config.camera.device}",
        "plug in the camera, check `camera.device`, and that the user is in group `video`",
    )


def check_microphone(config: EdgeConfig) -> Finding:
    """An input device matching `audio.device` exists."""
    if not config.inputs.microphone:
        return Finding("ok", "microphone", "disabled (inputs.microphone: false)")
    try:
        import sounddevice

        device = sounddevice.query_devices(config.audio.device, kind="input")
    except (OSError, ValueError, sounddevice.PortAudioError) as exc:  # no PortAudio or device
        return Finding(
            "warn",
            "microphone",
            f"no input device ({exc})",
            "plug in the microphone, check `audio.device`, install libportaudio2, "
            "and that the user is in group `audio`",
        )
    return Finding("ok", "microphone", f"input device: {device['name']}")


def check_broker(config: EdgeConfig) -> Finding:
    """The broker's port is reachable (TLS and credentials are checked when connecting)."""
    host = config.mqtt.host
    if host is None:
        return Finding(
            "warn", "broker", "none configured: events stay in the outbox", "set mqtt.host"
        )
    try:
        with socket.create_connection((host, config.mqtt.port), timeout=3):
            pass
    except OSError as exc:
        return Finding(
            "fail",
            "broker",
            f"{host}:{config.mqtt.port} unreachable ({exc})",
            "check mqtt.host/port, the network and the firewall",
        )
    return Finding("ok", "broker", f"{host}:{config.mqtt.port} reachable")


def check_state(config: EdgeConfig) -> Finding:
    """The state directory is writable and has room for the outbox."""
    state = resolve_state_dir(config)
    try:
        state.mkdir(parents=True, exist_ok=True)
        probe = state / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Finding("fail", "state", f"{state} not writable ({exc})", "fix its permissions")
    free_mb = shutil.disk_usage(state).free / 1e6
    if free_mb < MIN_FREE_MB:
        return Finding("warn", "state", f"{free_mb:.0f} MB free in {state}", "free disk space")
    return Finding("ok", "state", f"{state} writable, {free_mb:.0f} MB free")


def check_consent(config: EdgeConfig) -> Finding:
    """Notice mode is legal only where the operator decided so."""
    if config.consent.mode == "notice":
        return Finding(
            "warn",
            "consent",
            "notice mode: no per-person opt-in",
            "make sure the operator's legal assessment covers it (docs/privacy.md)",
        )
    return Finding("ok", "consent", "per-person opt-in")


def check_calibration(config: EdgeConfig) -> Finding:
    """A calibration profile exists, and what it found."""
    from edge.calibration.profile import load_profile

    profile = load_profile(StatePaths.of(config).calibration)
    if profile is None:
        return Finding("warn", "calibration", "not calibrated yet", "run `moodsense calibrate`")
    if profile.findings:
        return Finding(
            "warn",
            "calibration",
            f"{profile.measured_at}: " + "; ".join(profile.findings),
            "address the findings, then re-run `moodsense calibrate`",
        )
    return Finding("ok", "calibration", f"calibrated {profile.measured_at}")


CHECKS: tuple[Callable[[EdgeConfig], Finding], ...] = (
    check_models,
    check_state,
    check_broker,
    check_camera,
    check_microphone,
    check_calibration,
    check_consent,
)


def run_checks(config: EdgeConfig) -> list[Finding]:
    """Every check, in order."""
    return [check(config) for check in CHECKS]
