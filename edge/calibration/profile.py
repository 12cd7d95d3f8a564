"""The calibration profile: what was measured, what it means, and the settings it implies.

Stored as JSON at `<state_dir>/calibration/profile.json` (format `moodsense-calibration/1`,
documented in calibration/README.md); written atomically, read at start.
"""

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.calibration.measure import AudioStats, VideoStats
from edge.config.camera import FaceConfig

logger = logging.getLogger(__name__)

PROFILE_FORMAT: Literal["moodsense-calibration/1"] = "moodsense-calibration/1"


class CalibrationSettings(BaseModel):
    """Settings derived from the measurements, applied at start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vad_noise_floor_dbfs: float | None = None
    face_min_px: int | None = None


class CalibrationProfile(BaseModel):
    """One calibration run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["moodsense-calibration/1"] = PROFILE_FORMAT
    measured_at: str = Field(description="UTC, whole seconds.")
    audio: dict[str, float] | None
    video: dict[str, float | None] | None
    findings: list[str]
    settings: CalibrationSettings


def _audio_findings(audio: AudioStats) -> list[str]:
    findings = []
    if audio.clipped_ratio > 0.001:
        findings.append(
            f"microphone clips ({audio.clipped_ratio:.2%} of samples): lower its input gain"
        )
    if audio.noise_floor_dbfs > -35:
        findings.append(
            f"noisy room (floor {audio.noise_floor_dbfs} dBFS): speech will be detected less often"
        )
    if audio.level_p95_dbfs - audio.noise_floor_dbfs < 10:
        findings.append("little difference between loud and quiet moments: check the microphone")
    return findings


def _video_findings(video: VideoStats, face: FaceConfig) -> list[str]:
    findings = []
    if video.luma_p50 < face.exposure_min_mean:
        findings.append(f"scene too dark (median luminance {video.luma_p50}): add light")
    if video.luma_p50 > face.exposure_max_mean:
        findings.append(f"scene too bright (median luminance {video.luma_p50})")
    if video.luma_p90 > 200 and video.luma_p10 < 60:
        findings.append("strong contrast (backlight?): faces may be under-exposed")
    if video.face_px_p10 is None:
        findings.append("no face seen: have someone stand where customers stand and re-run")
    elif video.face_px_p10 < face.min_face_px:
        findings.append(
            f"faces look small ({video.face_px_p10:.0f} px): move the camera closer or raise "
            "its resolution"
        )
    return findings


def build_profile(
    audio: AudioStats | None, video: VideoStats | None, face: FaceConfig, measured_at: str
) -> CalibrationProfile:
    """Interpret the measurements."""
    findings = (_audio_findings(audio) if audio else ["no audio measured"]) + (
        _video_findings(video, face) if video else ["no video measured"]
    )
    face_min = None
    if video and video.face_px_p10 is not None:
        face_min = max(24, int(video.face_px_p10 * 0.6))
    settings = CalibrationSettings(
        vad_noise_floor_dbfs=audio.noise_floor_dbfs if audio else None, face_min_px=face_min
    )
    return CalibrationProfile(
        measured_at=measured_at,
        audio={k: float(v) for k, v in asdict(audio).items()} if audio else None,
        video=asdict(video) if video else None,
        findings=findings,
        settings=settings,
    )


def save_profile(profile: CalibrationProfile, path: Path) -> None:
    """Write atomically, so a power cut leaves the old or the new profile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(profile.model_dump_json(indent=2), encoding="utf-8")
    os.replace(temporary, path)


def load_profile(path: Path) -> CalibrationProfile | None:
    """The stored profile; None (logged) when absent or unreadable."""
    if not path.exists():
        return None
    try:
        return CalibrationProfile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        logger.warning("Calibration profile %s unreadable (%s); using defaults", path, exc)
        return None
