"""The sink's compiled validator (fastjsonschema) against the reference (jsonschema on the
contract's schemas): same verdict on every payload type and thousands of broken variants,
and dead-letter reasons that say which field is wrong."""

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from edge.events.contract import PAYLOAD_TYPES
from edge.sink.validate import Accepted, ContractValidator, Rejected
from tests.test_contract import _produced_payloads, _schema_for

# Values a broken or hostile device could put in any field: wrong types, edges of ranges,
# integers written as floats (2020-12 counts 1.0 as an integer), empty containers.
SUBSTITUTES: tuple[Any, ...] = (None, True, 0, -1, 1, 1.0, 1.5, 5, 7, 1e9, "", "x", [], {})
Path_ = tuple[str | int, ...]


def _leaves(node: Any, path: Path_ = ()) -> Iterator[Path_]:
    """The path of every value in `node`, containers included, depth first."""
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))


def _set(document: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    parent: Any = changed
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return changed


def _drop(document: dict[str, Any], path: Path_) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    parent: Any = changed
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict):
        del parent[path[-1]]
    return changed


def mutants(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`document`, then copies with one field replaced, removed, or an object widened."""
    yield document
    for path in _leaves(document):
        for value in SUBSTITUTES:
            yield _set(document, path, value)
        yield _drop(document, path)
    for path in [(), *_leaves(document)]:
        target: Any = document
        for part in path:
            target = target[part]
        if isinstance(target, dict):
            yield _set(document, (*path, "face_crop"), "AAAA")


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """One produced document per schema and shape (e.g. interaction start and end)."""
    produced = _produced_payloads(tmp_path_factory.mktemp("produced"))
    by_shape: dict[tuple[str, frozenset[Path_]], dict[str, Any]] = {}
    for raw in produced:
        document = json.loads(raw)
        shape = (document["schema"], frozenset(_leaves(document)))
        by_shape.setdefault(shape, document)
    return list(by_shape.values())


def test_the_compiled_validator_agrees_with_jsonschema_on_every_variant(
    documents: list[dict[str, Any]],
) -> None:
    """Making validation cheaper must not let through anything the published schema refuses."""
    validator = ContractValidator("moodsense/v1", 65_536)
    # The code's schemas (with their `$ref`s), which test_contract keeps equal to docs/schemas.
    references = {t.schema_name: Draft202012Validator(t.json_schema()) for t in PAYLOAD_TYPES}
    assert {d["schema"] for d in documents} == set(references)
    checked = rejected = 0
    for original in documents:
        schema = original["schema"]
        for document in mutants(original):
            expected = references[schema].is_valid(document)
            error = validator.schema_error(schema, document)
            assert (error is None) == expected, (schema, document, error)
            checked, rejected = checked + 1, rejected + (error is not None)
    assert checked > 2000 and 0.5 < rejected / checked < 1


def test_a_trailing_newline_is_refused_where_jsonschema_would_let_it_through(
    documents: list[dict[str, Any]],
) -> None:
    """Patterns follow JSON Schema's regex dialect (`$` ends the string), so an id with a
    newline appended cannot reach the database; Python's `re.search` alone would allow it."""
    mood = next(d for d in documents if d["schema"] == "mood/1")
    broken = mood | {"interaction_id": mood["interaction_id"] + "\n"}
    assert Draft202012Validator(_schema_for(mood)).is_valid(broken)  # the published file
    error = ContractValidator("moodsense/v1", 65_536).schema_error("mood/1", broken)
    assert error is not None and error.startswith("interaction_id: must match pattern")


def _check(document: dict[str, Any]) -> Accepted | Rejected:
    kind = document["schema"].split("/")[0]
    payload = json.dumps(document).encode()
    return ContractValidator("moodsense/v1", 65_536).check(f"moodsense/v1/s1/k1/{kind}", payload)


def test_dead_letter_reasons_name_the_field_and_the_value(
    documents: list[dict[str, Any]],
) -> None:
    """Whoever reads the dead-letter table must see which device field broke the contract."""
    mood = next(d for d in documents if d["schema"] == "mood/1")
    end = next(d for d in documents if d["schema"] == "interaction/1" and d["phase"] == "end")
    cases = {
        "mood/1 invalid at categories/angry: must be smaller than or equal to 1.0 (got 1.5)": (
            _set(mood, ("categories", "angry"), 1.5)
        ),
        "mood/1 invalid at (top level): must contain ['valence'] properties": _drop(
            mood, ("valence",)
        ),
        # A discriminated union: the reason comes from the branch `phase` picks.
        "interaction/1 invalid at summary/trajectory: must be one of": _set(
            end, ("summary", "trajectory"), "sideways"
        ),
    }
    for reason, document in cases.items():
        verdict = _check(document)
        assert isinstance(verdict, Rejected) and verdict.reason.startswith(reason), verdict
    extra = _check(mood | {"face_crop": "AAAA"})
    assert isinstance(extra, Rejected) and "face_crop" in extra.reason


def test_the_validator_never_fills_in_defaults(documents: list[dict[str, Any]]) -> None:
    """The stored payload must be the bytes the device sent, not a completed copy."""
    survey = next(d for d in documents if d["schema"] == "survey/1")
    verdict = _check(survey)
    assert isinstance(verdict, Accepted) and verdict.document == survey
    missing_scale = _check(_drop(survey, ("scale",)))
    assert isinstance(missing_scale, Rejected) and "scale" in missing_scale.reason
