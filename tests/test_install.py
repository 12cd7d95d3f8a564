"""scripts/install.sh and scripts/uninstall.sh, staged under a temporary --root.

The venv is the one running these tests (`--venv-from`), so no package is installed and the
real system is not touched: the scripts skip user creation and systemctl under --root.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge.inference.registry import ModelRegistry

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "scripts" / "install.sh"
UNINSTALL = REPO / "scripts" / "uninstall.sh"


def run(script: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an install script staged under `root`; stdout and stderr together."""
    return subprocess.run(
        ["bash", str(script), "--root", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )


def install(root: Path, *args: str, script: Path = INSTALL) -> str:
    """A staged install that must succeed; returns its output."""
    result = run(script, root, "--venv-from", sys.prefix, *args)
    assert result.returncode == 0, result.stdout
    return result.stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def release(root: Path, link: str = "moodsense-edge") -> str:
    """The release directory name a link under /opt points at."""
    return os.readlink(root / "opt" / link).removeprefix("moodsense-edge-releases/")


@pytest.fixture(scope="module")
def first_install(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One fresh install (no broker password given), shared read-only; copy it to change it."""
    root = tmp_path_factory.mktemp("fresh") / "root"
    return root, install(root, "--release", "r1")


@pytest.fixture
def installed(first_install: tuple[Path, str], tmp_path: Path) -> Path:
    """A private copy of the fresh install that a test may change."""
    copy = tmp_path / "root"
    shutil.copytree(first_install[0], copy, symlinks=True)
    return copy


def test_a_fresh_install_lays_out_the_appliance(first_install: tuple[Path, str]) -> None:
    """The unit expects exactly these paths; anything else fails at the first boot."""
    root, output = first_install
    assert os.readlink(root / "opt/moodsense-edge") == "moodsense-edge-releases/r1"
    software = root / "opt/moodsense-edge"
    assert (software / "scripts/install.sh").is_file() and not (software / ".git").exists()
    assert (software / ".venv/bin/moodsense").exists()
    unit = root / "etc/systemd/system/moodsense-edge.service"
    assert unit.read_text() == (REPO / "systemd/moodsense-edge.service").read_text()
    assert "unit verified (systemd-analyze verify" in output or "not verified" in output
    config = (root / "etc/moodsense/edge.yaml").read_text()
    assert "dir: /var/lib/moodsense-models/current" in config
    assert ModelRegistry(root / "var/lib/moodsense-models/current").verify_all()
    assert (root / "var/lib/moodsense/cache").is_dir()
    assert mode(root / "var/lib/moodsense") == 0o750
    # Nothing outside the staging root: what needs the real system is reported instead.
    assert "skipped (--root): system user moodsense (groups audio, video)" in output
    assert "skipped (--root): chown -R moodsense:moodsense" in output
    assert "skipped (--root): systemctl daemon-reload, enable, restart" in output
    assert "moodsense doctor:" in output


def test_credentials_are_private_and_the_command_key_is_generated(
    first_install: tuple[Path, str],
) -> None:
    """Secrets readable by other users would let anyone on the kiosk drive it."""
    root, output = first_install
    credentials = root / "etc/moodsense/credentials"
    assert mode(credentials) == 0o700
    key = credentials / "command_key"
    password = credentials / "mqtt_password"
    assert mode(key) == 0o600 and mode(password) == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}", key.read_text())
    # No password was given: the file exists (LoadCredential= needs it) and is empty.
    assert password.read_bytes() == b""
    assert "mqtt_password EMPTY" in output


def test_a_rerun_keeps_an_edited_config_and_the_credentials(
    installed: Path, tmp_path: Path
) -> None:
    """Re-running is the upgrade path: it must never undo what the operator set."""
    config = installed / "etc/moodsense/edge.yaml"
    config.write_text(config.read_text().replace("default-site", "store-9"))
    edited = config.read_text()
    key = (installed / "etc/moodsense/credentials/command_key").read_text()
    password = tmp_path / "password"
    password.write_text("broker-secret\n")
    output = install(installed, "--release", "r1", "--mqtt-password-file", str(password))
    assert config.read_text() == edited and "kept existing" in output
    assert (installed / "etc/moodsense/credentials/command_key").read_text() == key
    assert (installed / "etc/moodsense/credentials/mqtt_password").read_text() == "broker-secret\n"
    assert "edge.yaml: ok (site store-9" in output  # the config check the unit runs first
    assert "doctor: no failures" in output
    assert release(installed) == "r1" and not (installed / "opt/moodsense-edge.previous").exists()


def test_an_upgrade_switches_the_release_and_rollback_switches_back(installed: Path) -> None:
    """A bad release must be undone with one command; old releases must not fill the disk."""
    output = install(installed, "--release", "r2")
    assert release(installed) == "r2" and release(installed, "moodsense-edge.previous") == "r1"
    assert "ships the same set as before; active set kept" in output
    back = run(INSTALL, installed, "--rollback")
    assert back.returncode == 0, back.stdout
    assert release(installed) == "r1" and release(installed, "moodsense-edge.previous") == "r2"
    install(installed, "--release", "r3")
    kept = sorted(p.name for p in (installed / "opt/moodsense-edge-releases").iterdir())
    assert kept == ["r1", "r3"]


def test_a_release_with_a_damaged_model_set_is_not_switched_to(
    installed: Path, tmp_path: Path
) -> None:
    """The old release and models keep running when a new release's models do not verify."""
    source = tmp_path / "source"
    shutil.copytree(
        installed / "opt/moodsense-edge", source, ignore=shutil.ignore_patterns(".venv")
    )
    manifest = source / "models/manifest.toml"
    manifest.write_text(manifest.read_text() + "# next release\n")
    (source / "models/voice_emotion.tflite").write_bytes(b"not a model")
    active_models = os.readlink(installed / "var/lib/moodsense-models/current")
    result = run(source / "scripts/install.sh", installed, "--venv-from", sys.prefix)
    assert result.returncode != 0
    assert "model set refused" in result.stdout and "voice_emotion.tflite" in result.stdout
    assert release(installed) == "r1"
    assert os.readlink(installed / "var/lib/moodsense-models/current") == active_models


def test_uninstall_keeps_state_and_purge_removes_it(installed: Path) -> None:
    """Undelivered events and the consent ledger outlive a reinstall unless purged."""
    outbox = installed / "var/lib/moodsense/outbox.sqlite3"
    outbox.write_bytes(b"undelivered")
    result = run(UNINSTALL, installed)
    assert result.returncode == 0, result.stdout
    assert not (installed / "opt/moodsense-edge").exists()
    assert not (installed / "opt/moodsense-edge-releases").exists()
    assert not (installed / "etc/systemd/system/moodsense-edge.service").exists()
    assert outbox.read_bytes() == b"undelivered"
    assert (installed / "etc/moodsense/edge.yaml").is_file()
    assert (installed / "var/lib/moodsense-models/current").exists()
    assert "skipped (--root): systemctl disable --now" in result.stdout
    purged = run(UNINSTALL, installed, "--purge")
    assert purged.returncode == 0, purged.stdout
    for path in ("var/lib/moodsense", "var/lib/moodsense-models", "etc/moodsense"):
        assert not (installed / path).exists(), path
    assert "skipped (--root): userdel moodsense" in purged.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_the_scripts_pass_shellcheck() -> None:
    """Quoting mistakes in a root-run script delete the wrong files (set-up runs as root too)."""
    scripts = [*sorted(INSTALL.parent.glob("*.sh")), REPO / ".ci" / "run"]
    assert INSTALL in scripts and UNINSTALL in scripts
    result = subprocess.run(
        ["shellcheck", *map(str, scripts)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout
