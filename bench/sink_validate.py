"""Cost of the sink's contract check per message, and of the schema step against jsonschema.

Usage: python bench/sink_validate.py [--rounds 7] [--repeat 2000] [--json]

Per payload type (real payloads from `tests/samples.py`), microseconds per message, the best
of `--rounds` rounds of `--repeat` messages each (as `timeit` does: on a shared machine the
neighbours only ever add time):
- `check_us`: `ContractValidator.check(topic, payload)`, everything the sink does per message
  before the database (topic, JSON parse, schema, time check);
- `schema_us`: the sink's schema step alone on the parsed document;
- `reference_us`: the same document through `jsonschema.Draft202012Validator` on the same
  `$ref`-inlined schema with `best_match(iter_errors(...))`, which is what the sink ran before.
"""

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.events.contract import PAYLOAD_TYPES
from edge.sink.validate import ContractValidator, inline_refs
from tests import samples

PREFIX = "moodsense/v1"


def _best_us(run: Callable[[], object], repeat: int, rounds: int) -> float:
    timings: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            run()
        timings.append((time.perf_counter() - start) / repeat * 1e6)
    return round(min(timings), 2)


def _messages() -> dict[str, tuple[str, bytes]]:
    """One real message per event type (the first of each schema the samples produce)."""
    found: dict[str, tuple[str, bytes]] = {}
    for payload in samples.event_payloads():
        schema = payload.model_dump(by_alias=True)["schema"]
        if schema not in found:
            kind = schema.split("/")[0]
            found[schema] = (f"{PREFIX}/store-1/kiosk-1/{kind}", payload.to_json())
    return found


def _references() -> dict[str, Draft202012Validator]:
    return {
        p.schema_name: Draft202012Validator(inline_refs(p.json_schema())) for p in PAYLOAD_TYPES
    }


def _steps(
    validator: ContractValidator, reference: Draft202012Validator, topic: str, payload: bytes
) -> dict[str, Callable[[], object]]:
    """The three timed steps for one message (see the module docstring)."""
    document: Any = json.loads(payload)
    schema = document["schema"]

    def check() -> object:
        return validator.check(topic, payload)

    def schema_step() -> object:
        return validator.schema_error(schema, document)

    def jsonschema_step() -> object:
        return best_match(reference.iter_errors(document))

    return {"check": check, "schema": schema_step, "reference": jsonschema_step}


def measure(repeat: int, rounds: int) -> dict[str, dict[str, float]]:
    """Microseconds per message for each payload type."""
    validator = ContractValidator(PREFIX, 65_536)
    references = _references()
    results: dict[str, dict[str, float]] = {}
    for schema, (topic, payload) in sorted(_messages().items()):
        steps = _steps(validator, references[schema], topic, payload)
        results[schema] = {
            f"{name}_us": _best_us(run, repeat, rounds) for name, run in steps.items()
        }
        results[schema]["bytes"] = len(payload)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    report = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "per_type": measure(args.repeat, args.rounds),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'schema':<18}{'bytes':>7}{'check µs':>10}{'schema µs':>11}{'jsonschema µs':>15}")
    for schema, row in report["per_type"].items():
        print(
            f"{schema:<18}{row['bytes']:>7.0f}{row['check_us']:>10.1f}"
            f"{row['schema_us']:>11.1f}{row['reference_us']:>15.1f}"
        )


if __name__ == "__main__":
    main()
