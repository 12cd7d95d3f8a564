"""The systemd unit: the appliance settings are there, and systemd itself accepts it."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "moodsense-edge.service"
REQUIRED = [
    "Type=notify",
    "WatchdogSec=",
    "Restart=always",
    "StartLimitBurst=",
    "Wants=network-online.target",
    "LoadCredential=mqtt_password:",
    "SupplementaryGroups=audio video",
    "StateDirectory=moodsense",
    "ProtectSystem=strict",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "SystemCallFilter=@system-service",
    "RestartPreventExitStatus=2",
]


def test_the_unit_has_the_appliance_settings() -> None:
    """Months unattended need a watchdog, restarts, credentials and hardening."""
    text = UNIT.read_text()
    assert [line for line in REQUIRED if line not in text] == []


def _local_copy(tmp_path: Path) -> Path:
    """The unit with /opt/moodsense-edge pointing at this checkout, so paths exist."""
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace("/opt/moodsense-edge", str(REPO)))
    return copy


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    """A unit systemd refuses never starts, whatever else is right."""
    result = subprocess.run(
        ["systemd-analyze", "verify", str(_local_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_security_exposure_stays_low(tmp_path: Path) -> None:
    """Keep `systemd-analyze security` at OK (docs/appliance.md records the score)."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(_local_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match is not None, result.stdout[-500:] + result.stderr
    assert float(match.group(1)) <= 2.5
