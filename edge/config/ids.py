"""Identifier type for site and device ids, which become MQTT topic levels."""

from typing import Annotated

from pydantic import AfterValidator

MAX_ID_LENGTH = 64
_ALLOWED_PUNCTUATION = frozenset("-_.")


def validate_topic_id(value: str) -> str:
    """Refuse ids that would break or widen the MQTT topic tree.

    A `+` or `#` would turn our topics into wildcards, `/` would add levels, and control
    characters or a leading `$` are reserved or invisible in logs.
    """
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"must be at most {MAX_ID_LENGTH} characters")
    if "+" in value or "#" in value:
        raise ValueError("must not contain MQTT wildcards '+' or '#'")
    if "/" in value:
        raise ValueError("must not contain '/' (it would add topic levels)")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not contain control characters")
    if not all(ch.isascii() and (ch.isalnum() or ch in _ALLOWED_PUNCTUATION) for ch in value):
        raise ValueError("may only contain ASCII letters, digits, '-', '_' and '.'")
    if value[0] in _ALLOWED_PUNCTUATION:
        raise ValueError("must start with a letter or digit")
    return value


TopicId = Annotated[str, AfterValidator(validate_topic_id)]
