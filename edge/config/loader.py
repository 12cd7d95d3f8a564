"""Read the YAML file, apply environment overrides, validate, and explain every problem."""

import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edge.config.model import EdgeConfig


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def print_config_error(error: ConfigError) -> None:
    """The operator's view of a bad config: the source, then one line per problem (stderr)."""
    print(f"invalid configuration ({error.source}):", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)


def format_validation_error(error: ValidationError) -> list[str]:
    """One `field.path: message` line per pydantic error, input values left out (secrets)."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{_field_path(tuple(item['loc']))}: {message}")
    return lines


def read_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping in `path`; unreadable, malformed or non-mapping files are `ConfigError`s."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror or exc}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [f"(yaml) {where}{problem}"]) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["(top level): must be a mapping of settings"])
    return data


def load_config(path: Path | None) -> EdgeConfig:
    """Load and validate; with `path=None` the built-in defaults plus environment apply.

    Raises `ConfigError` listing every problem with its field path.
    """
    data = read_yaml(path) if path is not None else {}
    try:
        return EdgeConfig(**data)
    except ValidationError as exc:
        raise ConfigError(str(path or "defaults"), format_validation_error(exc)) from exc


def resolve_state_dir(config: EdgeConfig) -> Path:
    """Where state lives: config, then systemd's $STATE_DIRECTORY, then the XDG default."""
    if config.state_dir is not None:
        return config.state_dir
    systemd_dir = os.environ.get("STATE_DIRECTORY")
    if systemd_dir:
        # systemd may pass several colon-separated directories; the first is ours.
        return Path(systemd_dir.split(":")[0])
    return Path.home() / ".local" / "state" / "moodsense"
