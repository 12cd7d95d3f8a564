"""Evaluation manifests: a CSV with `path,label`, paths relative to the CSV's folder."""

import csv
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edge.labels import canonical


class ManifestError(Exception):
    """The manifest cannot be read; the message names the file and row."""


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """One file to score and its canonical label."""

    path: Path
    label: str


@dataclass(slots=True)
class Manifest:
    """Items to score, plus what was skipped and why."""

    items: list[LabelledItem]
    skipped: Counter[str] = field(default_factory=Counter)


def read_manifest(
    csv_path: Path, supported: tuple[str, ...], mapping: Mapping[str, str] | None = None
) -> Manifest:
    """Read `csv_path`; map labels to canonical ones the model supports.

    A label is first made canonical (`anger` -> `angry`), then `mapping` may fold it into a
    supported one (`calm` -> `neutral`); labels still unsupported are skipped and counted as
    `label:<name>`, missing files as `missing_file`.
    """
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ManifestError(f"{csv_path}: cannot read: {exc.strerror}") from exc
    if rows and not {"path", "label"} <= set(rows[0]):
        raise ManifestError(f"{csv_path}: needs the columns 'path' and 'label'")
    manifest = Manifest(items=[])
    for number, row in enumerate(rows, start=2):
        raw_label, raw_path = (row.get("label") or "").strip(), (row.get("path") or "").strip()
        if not raw_label or not raw_path:
            raise ManifestError(f"{csv_path}:{number}: empty path or label")
        label = canonical(raw_label) or raw_label.lower()
        label = (mapping or {}).get(label, label)
        path = (csv_path.parent / raw_path).resolve()
        if label not in supported:
            manifest.skipped[f"label:{raw_label.lower()}"] += 1
        elif not path.is_file():
            manifest.skipped["missing_file"] += 1
        else:
            manifest.items.append(LabelledItem(path, label))
    return manifest
