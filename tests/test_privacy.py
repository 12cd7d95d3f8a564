"""Privacy invariants of what is published (DESIGN.md, 'Privacy invariants')."""

import json
import re
from collections.abc import Iterator
from typing import Any

from tests import samples

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
FORBIDDEN_WORDS = {"audio", "samples", "frame", "frames", "image", "crop", "landmarks"}
FORBIDDEN_WORDS |= {"embedding", "track", "person", "name", "gender", "age", "pcm", "jpeg"}


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, f"{path}.{key}")
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child, path)
    else:
        yield path, value


def _documents() -> list[dict[str, Any]]:
    return [json.loads(p.to_json()) for p in samples.event_payloads()]


def test_published_events_carry_no_stable_identifier() -> None:
    """Two interactions must not be linkable through anything the backend receives."""
    first = {v for d in _documents() for _k, v in _walk(d) if isinstance(v, str) and ULID.match(v)}
    second = {v for d in _documents() for _k, v in _walk(d) if isinstance(v, str) and ULID.match(v)}
    assert first and second and first.isdisjoint(second)


def test_no_published_field_can_hold_raw_media_or_a_person() -> None:
    """Raw audio, frames, landmarks, embeddings or person attributes never leave the device."""
    for document in _documents():
        for path, value in _walk(document):
            words = set(path.rsplit(".", 1)[-1].split("_"))
            assert not words & FORBIDDEN_WORDS, path
            assert not (isinstance(value, str) and len(value) > 200), path


def test_times_are_coarse_and_positions_relative() -> None:
    """Second-resolution time and relative offsets make re-identification from timing hard."""
    for document in _documents():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["time"])
        for path, value in _walk(document):
            if path.endswith("t_rel_s"):
                assert value == round(value, 1)
