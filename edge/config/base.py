"""The base of every config section: strict (unknown keys are errors) and immutable."""

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

# Keys that look like inline secrets: refused with a pointer to the file-based way.
_SECRET_KEYS = frozenset(
    {"password", "passwd", "secret", "token", "key", "private_key", "client_key", "command_key"}
)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if isinstance(key, str) and key.lower() in _SECRET_KEYS:
                    raise ValueError(
                        f"'{key}' looks like a secret; secrets are never read from the YAML "
                        f"file: store it in a file and set '{key}_file' to its path, or pass "
                        "it as a systemd credential (see docs/configuration.md)"
                    )
        return data
