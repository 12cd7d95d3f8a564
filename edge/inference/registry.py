"""Models are versioned data: `models/manifest.toml` names each file with its sha256, labels
and input spec, and nothing is loaded before its hash matches."""

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.events.state_payloads import ModelInfo
from edge.inference.runtime import ModelLoadError, TfliteModel

MANIFEST_NAME = "manifest.toml"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


class ModelError(Exception):
    """A model cannot be used; the message names the file and says why, in one line."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One manifest entry."""

    name: str
    path: Path
    sha256: str
    version: str
    labels: tuple[str, ...]
    input_shape: tuple[int, ...]
    input_dtype: str
    extra: dict[str, Any]
    """Model-specific settings (normalisation, feature spec, ...), as written."""

    def info(self) -> ModelInfo:
        """What the retained `info` topic says about this model."""
        return ModelInfo(name=self.name, version=self.version, sha256=self.sha256)


def read_manifest(manifest: Path) -> dict[str, Any]:
    """The `[models]` table of a manifest file: model name -> its entry as written."""
    try:
        document = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{manifest}: cannot read model manifest: {exc}") from exc
    entries = document.get("models", {})
    if not isinstance(entries, dict):
        raise ModelError(f"{manifest}: [models] is not a table")
    return entries


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


_KNOWN_KEYS = {"file", "sha256", "version", "labels", "input_shape", "input_dtype"}


def _spec(name: str, entry: dict[str, Any], directory: Path) -> ModelSpec:
    try:
        return ModelSpec(
            name=name,
            path=directory / str(entry["file"]),
            sha256=str(entry["sha256"]).lower(),
            version=str(entry["version"]),
            labels=tuple(str(label) for label in entry.get("labels", ())),
            input_shape=tuple(int(d) for d in entry["input_shape"]),
            input_dtype=str(entry["input_dtype"]),
            extra={k: v for k, v in entry.items() if k not in _KNOWN_KEYS},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{directory / MANIFEST_NAME}: entry '{name}' is invalid: {exc}") from exc


class ModelRegistry:
    """The manifest of one models directory."""

    def __init__(self, directory: Path = DEFAULT_MODELS_DIR) -> None:
        # Resolved once: `moodsense models install` swaps a `current` symlink, and a swap
        # during a start must not mix files of two model sets.
        directory = directory.resolve()
        entries = read_manifest(directory / MANIFEST_NAME)
        self.specs = {name: _spec(name, entry, directory) for name, entry in entries.items()}
        # Hashing is the slow part of a start; each file is checked once per registry.
        self._verified: set[str] = set()

    def verify(self, name: str) -> ModelSpec:
        """The spec of `name` once its file exists and its sha256 matches the manifest."""
        spec = self.specs.get(name)
        if spec is None:
            raise ModelError(f"model '{name}' is not in the manifest")
        if name in self._verified:
            return spec
        if not spec.path.is_file():
            raise ModelError(f"{spec.path}: model file is missing")
        actual = file_sha256(spec.path)
        if actual != spec.sha256:
            raise ModelError(
                f"{spec.path}: sha256 {actual} does not match the manifest ({spec.sha256}); "
                "the file is truncated, corrupt or was replaced"
            )
        self._verified.add(name)
        return spec

    def verify_all(self) -> list[ModelSpec]:
        """Every model, verified (raises on the first bad one)."""
        return [self.verify(name) for name in sorted(self.specs)]

    def open(self, name: str, num_threads: int = 1) -> tuple[ModelSpec, TfliteModel]:
        """Verify, then create an interpreter."""
        spec = self.verify(name)
        try:
            model = TfliteModel(spec.path, num_threads=num_threads)
        except ModelLoadError as exc:
            raise ModelError(str(exc)) from exc
        if model.inputs[0].shape != spec.input_shape:
            raise ModelError(
                f"{spec.path}: input shape {model.inputs[0].shape} differs from the manifest "
                f"({spec.input_shape})"
            )
        return spec, model
