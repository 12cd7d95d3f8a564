"""Model updates: a set is verified in staging before the switch, a bad set leaves the old one
active, and the previous set stays for a rollback."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.config import EdgeConfig
from edge.doctor import check_models
from edge.inference.registry import ModelRegistry, file_sha256
from edge.inference.store import ModelStore, StoreError, set_id

VOICE = "voice_emotion"


def make_set(directory: Path, version: str = "3", sha256: str | None = None) -> Path:
    """A one-model set (the real voice model) with its own manifest; small, so tests are fast."""
    directory.mkdir(parents=True)
    spec = ModelRegistry().specs[VOICE]
    shutil.copy(spec.path, directory)
    (directory / "README.md").write_text("voice model notes\n")
    (directory / "manifest.toml").write_text(
        f"[models.{VOICE}]\n"
        f'file = "{spec.path.name}"\n'
        f'sha256 = "{sha256 or spec.sha256}"\n'
        f'version = "{version}"\n'
        f"input_shape = {list(spec.input_shape)}\n"
        f'input_dtype = "{spec.input_dtype}"\n'
    )
    return directory


def active_version(store: ModelStore) -> str:
    """The version the service would load from `current`, after opening the interpreter."""
    spec, _model = ModelRegistry(store.root / "current").open(VOICE)
    return spec.version


def test_a_verified_set_becomes_current_and_the_service_finds_it(tmp_path: Path) -> None:
    """The config's `models.dir` points at `current`; the switch must land exactly there."""
    store = ModelStore(tmp_path / "store")
    result = store.install(make_set(tmp_path / "a"))
    assert result.changed and result.previous is None
    assert os.readlink(store.root / "current") == f"sets/{result.active}"
    assert active_version(store) == "3"
    assert (store.root / "current" / "README.md").is_file()  # notices travel with the set
    model = store.root / "current" / "voice_emotion.tflite"
    assert model.stat().st_mode & 0o777 == 0o644  # readable by the service user
    config = EdgeConfig(models={"dir": store.root / "current"})
    assert check_models(config).status in ("ok", "warn")


def test_a_new_set_switches_and_rollback_restores_the_old_one(tmp_path: Path) -> None:
    """An update that misbehaves in the store must be undone with one command."""
    store = ModelStore(tmp_path / "store")
    first = store.install(make_set(tmp_path / "a", version="3")).active
    second = store.install(make_set(tmp_path / "b", version="4"))
    assert second.previous == first and active_version(store) == "4"
    back = store.rollback()
    assert back.active == first and back.previous == second.active
    assert active_version(store) == "3"
    assert store.rollback().active == second.active  # rolling back twice goes forward again


def _tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:4096])


@pytest.mark.parametrize("damage", [_tamper, _truncate])
def test_a_damaged_set_is_refused_and_the_old_set_still_loads(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    """A half-copied or replaced model must never become what the service loads."""
    store = ModelStore(tmp_path / "store")
    good = store.install(make_set(tmp_path / "a")).active
    bad = make_set(tmp_path / "bad", version="4")
    damage(bad / "voice_emotion.tflite")
    with pytest.raises(StoreError, match=r"sha256 .* does not match"):
        store.install(bad)
    assert store.active() == good and active_version(store) == "3"
    assert sorted(p.name for p in store.root.iterdir()) == [".lock", "current", "sets"]
    assert [p.name for p in store.sets.iterdir()] == [good]


def test_a_truncated_model_with_a_matching_hash_is_refused_by_the_interpreter(
    tmp_path: Path,
) -> None:
    """A hash only proves the file is the one the manifest names; it must also load."""
    store = ModelStore(tmp_path / "store")
    good = store.install(make_set(tmp_path / "a")).active
    source = tmp_path / "cut.tflite"
    shutil.copy(ModelRegistry().specs[VOICE].path, source)
    _truncate(source)
    bad = make_set(tmp_path / "bad", sha256=file_sha256(source))
    shutil.copy(source, bad / "voice_emotion.tflite")
    with pytest.raises(StoreError, match="not a loadable TFLite model"):
        store.install(bad)
    assert store.active() == good and active_version(store) == "3"


def test_a_manifest_naming_a_file_outside_the_set_is_refused(tmp_path: Path) -> None:
    """The installer runs as root: a manifest must not make it copy arbitrary files."""
    (tmp_path / "secret").write_text("not a model")
    bad = make_set(tmp_path / "bad")
    manifest = bad / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('"voice_emotion.tflite"', '"../secret"'))
    store = ModelStore(tmp_path / "store")
    with pytest.raises(StoreError, match="names no file inside the set"):
        store.install(bad)
    assert store.active() is None


def test_rollback_refuses_without_a_previous_set_or_with_a_damaged_one(tmp_path: Path) -> None:
    """Rolling back onto nothing, or onto a file that rotted on disk, must keep what runs."""
    store = ModelStore(tmp_path / "store")
    first = store.install(make_set(tmp_path / "a", version="3")).active
    with pytest.raises(StoreError, match="no previous model set"):
        store.rollback()
    second = store.install(make_set(tmp_path / "b", version="4")).active
    _tamper(store.sets / first / "voice_emotion.tflite")
    with pytest.raises(StoreError, match="does not match"):
        store.rollback()
    assert store.active() == second and active_version(store) == "4"


def test_installing_again_is_a_no_op_and_only_two_sets_are_kept(tmp_path: Path) -> None:
    """Re-running an update must not churn; old sets must not fill a small SD card."""
    store = ModelStore(tmp_path / "store")
    first = store.install(make_set(tmp_path / "a", version="3"))
    assert not store.install(tmp_path / "a").changed
    store.install(make_set(tmp_path / "b", version="4"))
    third = store.install(make_set(tmp_path / "c", version="5"))
    assert sorted(p.name for p in store.sets.iterdir()) == sorted([third.active, third.previous])
    assert first.active not in {third.active, third.previous}
    assert set_id(tmp_path / "c" / "manifest.toml") == third.active


def _moodsense(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "models", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_refuses_a_bad_set_with_one_line_and_exit_2(tmp_path: Path) -> None:
    """An operator at a kiosk needs one clear line, and scripts need the exit code."""
    store = tmp_path / "store"
    good = _moodsense("install", str(make_set(tmp_path / "a")), "--models-dir", str(store))
    assert good.returncode == 0 and "is now active" in good.stdout
    active = os.readlink(store / "current")
    bad = make_set(tmp_path / "bad", version="4")
    _tamper(bad / "voice_emotion.tflite")
    refused = _moodsense("install", str(bad), "--models-dir", str(store))
    lines = [line for line in refused.stderr.splitlines() if line.startswith("model set refused")]
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    assert str(bad / "voice_emotion.tflite") in lines[0]  # the operator's file, not staging
    assert lines[0].endswith(f"(active set unchanged: {Path(active).name})")
    assert os.readlink(store / "current") == active
    rollback = _moodsense("rollback", "--models-dir", str(store))
    assert rollback.returncode == 2 and "no previous model set" in rollback.stderr
