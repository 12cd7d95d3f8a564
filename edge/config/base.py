"""The base of every config section: strict (unknown keys are errors) and immutable."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


class DeviceReopen(StrictModel):
    """A capture device (microphone, camera): its `device` field, digits alone being an index,
    and how it is reopened when lost: exponential backoff."""

    reopen_min_s: float = Field(
        default=0.5, gt=0, le=60, description="First delay before reopening a lost device, s."
    )
    # 5 s: a device plugged back in is used again within 10 s however long it was away
    # (a retry is one failed open() call, cheap enough every 5 s).
    reopen_max_s: float = Field(
        default=5.0, gt=0, le=3600, description="Longest delay between reopen attempts, s."
    )

    @field_validator("device", check_fields=False)
    @classmethod
    def _index_from_digits(cls, device: Any) -> Any:
        # MOODSENSE_AUDIO__DEVICE=2 arrives as text: sounddevice would match '2' against device
        # names and OpenCV would open a file named '2'.
        if isinstance(device, str) and device.strip().isdigit():
            return int(device)
        return device

    @model_validator(mode="after")
    def _min_below_max(self) -> "DeviceReopen":
        if self.reopen_min_s > self.reopen_max_s:
            raise ValueError("reopen_min_s must not exceed reopen_max_s")
        return self
