"""A store of verified model sets with an atomic switch and one step of rollback.

Layout of a store (the config's `models.dir` points at `<store>/current`)::

    sets/<id>/        one model set: manifest.toml, the model files, their cards and notices
    current  -> sets/<id>     what the service loads
    previous -> sets/<id>     what `rollback` switches back to

A set's id is derived from its manifest, which names every model file with its sha256, so the
same set installed twice is the same directory. A new set is copied into a staging directory
inside the store and checked there (every file's sha256, and that each model loads in the
TFLite interpreter with the manifest's input shape) before it is renamed into `sets/` and
`current` is swapped with a rename of a symlink: a reader sees the old set or the new one,
never a half-copied one, and a refused set leaves `current` untouched.
"""

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edge.inference.registry import MANIFEST_NAME, ModelError, ModelRegistry, read_manifest

DEFAULT_STORE_DIR = Path("/var/lib/moodsense-models")
SETS = "sets"
CURRENT = "current"
PREVIOUS = "previous"


class StoreError(Exception):
    """A set was refused or the store cannot switch; the message is one line."""


@dataclass(frozen=True, slots=True)
class SwitchResult:
    """What a switch did: the set now active, the one kept for rollback, and whether it moved."""

    active: str
    previous: str | None
    changed: bool
    versions: dict[str, str]
    """Model name -> version of the active set."""


def set_id(manifest: Path) -> str:
    """The id of the set described by `manifest` (its sha256 covers every model file's)."""
    return hashlib.sha256(manifest.read_bytes()).hexdigest()[:16]


def _inside(root: Path, relative: str) -> bool:
    """Whether `root/relative` stays inside `root` (no absolute path, no `..` or symlink out)."""
    if Path(relative).is_absolute():
        return False
    return (root / relative).resolve().is_relative_to(root.resolve())


def _files_of_set(source: Path) -> list[str]:
    """Relative paths to copy: the manifest, every model file, and the files that document them
    (model cards and metrics the manifest names, top-level notices)."""
    manifest = source / MANIFEST_NAME
    try:
        entries = read_manifest(manifest)
    except ModelError as exc:
        raise StoreError(str(exc)) from exc
    if not entries:
        raise StoreError(f"{manifest}: lists no models")
    wanted = {MANIFEST_NAME}
    for name, entry in entries.items():
        model_file = str(entry.get("file", "")) if isinstance(entry, dict) else ""
        # A tampered manifest must not make a root-run installer copy files from elsewhere.
        if not model_file or not _inside(source, model_file):
            raise StoreError(f"{manifest}: model '{name}' names no file inside the set")
        wanted.add(model_file)
        wanted.update(
            value
            for value in entry.values()
            if isinstance(value, str) and _inside(source, value) and (source / value).is_file()
        )
    wanted.update(p.name for p in source.iterdir() if p.is_file() and p.suffix in {".md", ".txt"})
    return sorted(wanted)


def _copy_durably(source: Path, destination: Path, relative_paths: list[str]) -> None:
    """Copy and fsync, so a power cut after the switch cannot leave empty model files.
    Modes are set explicitly: the installer runs as root, possibly with a strict umask, and
    the service user must be able to read the set."""
    for relative in relative_paths:
        target = destination / relative
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            shutil.copyfile(source / relative, target)
        except OSError as exc:
            raise StoreError(f"{source / relative}: cannot copy: {exc.strerror}") from exc
        target.chmod(0o644)
        with target.open("rb") as handle:
            os.fsync(handle.fileno())
    for directory in {destination, *((destination / r).parent for r in relative_paths)}:
        directory.chmod(0o755)
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def verify_set(directory: Path, num_threads: int = 1) -> dict[str, str]:
    """Every model's sha256 matches and it loads with its input shape; name -> version."""
    try:
        registry = ModelRegistry(directory)
        if not registry.specs:
            raise StoreError(f"{directory / MANIFEST_NAME}: lists no models")
        for name in sorted(registry.specs):
            registry.open(name, num_threads)
    except ModelError as exc:
        raise StoreError(str(exc)) from exc
    return {name: spec.version for name, spec in sorted(registry.specs.items())}


class ModelStore:
    """Install, switch and roll back model sets in one store directory."""

    def __init__(self, root: Path = DEFAULT_STORE_DIR) -> None:
        self.root = root
        self.sets = root / SETS

    def _target(self, link: str) -> str | None:
        """The set id a link points at, or None when there is no such link."""
        path = self.root / link
        return Path(os.readlink(path)).name if path.is_symlink() else None

    def active(self) -> str | None:
        """The id of the set the service loads."""
        return self._target(CURRENT)

    def previous(self) -> str | None:
        """The id of the set `rollback` would switch to."""
        return self._target(PREVIOUS)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (two installers racing would mix up `previous`)."""
        self.sets.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def install(self, source: Path) -> SwitchResult:
        """Verify the set in `source` in staging, then make it current (old one kept).

        The source is always checked, also when the same set is already in the store, so a
        damaged copy is reported rather than silently ignored."""
        with self._locked():
            relative_paths = _files_of_set(source)
            new_id = set_id(source / MANIFEST_NAME)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
            try:
                _copy_durably(source, staging, relative_paths)
                if set_id(staging / MANIFEST_NAME) != new_id:
                    raise StoreError(f"{source / MANIFEST_NAME}: changed while it was copied")
                try:
                    versions = verify_set(staging)
                except StoreError as exc:  # name the operator's file, not our staging copy
                    raise StoreError(str(exc).replace(str(staging), str(source))) from exc
                self._keep(staging, new_id)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            return self._switch_to(new_id, versions)

    def _keep(self, staging: Path, new_id: str) -> None:
        """Rename a verified staging directory into `sets/`, unless an intact copy is there."""
        final = self.sets / new_id
        if final.is_dir():
            try:
                verify_set(final)
                return  # e.g. the previous set, installed again: reuse it
            except StoreError:
                # Damaged on disk: move it aside first, so `current` never points at nothing.
                final.rename(self.root / f".damaged-{new_id}")
        staging.rename(final)
        shutil.rmtree(self.root / f".damaged-{new_id}", ignore_errors=True)

    def rollback(self) -> SwitchResult:
        """Make the previous set current again, after verifying it once more."""
        with self._locked():
            previous = self.previous()
            if previous is None or not (self.sets / previous).is_dir():
                raise StoreError(f"{self.root}: no previous model set to roll back to")
            versions = verify_set(self.sets / previous)
            return self._switch_to(previous, versions)

    def _switch_to(self, new_id: str, versions: dict[str, str]) -> SwitchResult:
        old_id = self.active()
        if old_id == new_id:
            return SwitchResult(new_id, self.previous(), changed=False, versions=versions)
        _point(self.root / CURRENT, f"{SETS}/{new_id}")
        if old_id is not None:
            _point(self.root / PREVIOUS, f"{SETS}/{old_id}")
        _fsync_dir(self.root)
        self._prune()
        return SwitchResult(new_id, old_id, changed=True, versions=versions)

    def _prune(self) -> None:
        """Sets other than current and previous only take space on a small SD card."""
        keep = {self.active(), self.previous()}
        for directory in self.sets.iterdir():
            if directory.name not in keep:
                shutil.rmtree(directory, ignore_errors=True)


def _point(link: Path, target: str) -> None:
    """Make `link` a symlink to `target` atomically: rename(2) replaces the old link."""
    temporary = link.with_name(f".{link.name}.new")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    temporary.replace(link)
