"""Where the shared real data lives: $MOODSENSE_DATA or ../shared/data beside the repo."""

import os
from pathlib import Path

import pytest

DATA = Path(
    os.environ.get("MOODSENSE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def fer_images(label: str, count: int, split: str = "test") -> list[Path]:
    """The first `count` FER2013 images of one class (sorted, so runs are repeatable)."""
    folder = DATA / "face" / "fer2013" / split / label
    if not folder.is_dir():
        pytest.skip(f"FER2013 not found at {folder} (set MOODSENSE_DATA)")
    return sorted(folder.glob("*.png"))[:count]
