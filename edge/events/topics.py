"""Every MQTT topic of the contract is built here, and nowhere else.

Tree: `<prefix>/<site>/<device>/<leaf>`, prefix `moodsense/v1` by default.
"""

from dataclasses import dataclass
from enum import StrEnum

from edge.config.ids import validate_topic_id

COMMAND_LEVEL = "cmd"
RESULT_LEVEL = "result"


class Leaf(StrEnum):
    """The fixed topic leaves below a device."""

    STATUS = "status"
    INFO = "info"
    CONSENT = "consent"
    INTERACTION = "interaction"
    MOOD = "mood"
    ALERT = "alert"
    HEALTH = "health"
    SURVEY = "survey"


# State topics are retained so a late subscriber sees the current value; events never are.
RETAINED_LEAVES = frozenset({Leaf.STATUS, Leaf.INFO, Leaf.CONSENT})


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names for one device."""

    prefix: str
    site_id: str
    device_id: str

    def __post_init__(self) -> None:
        validate_topic_id(self.site_id)
        validate_topic_id(self.device_id)

    @property
    def base(self) -> str:
        """`<prefix>/<site>/<device>`: the root of this device's tree."""
        return f"{self.prefix}/{self.site_id}/{self.device_id}"

    def leaf(self, leaf: Leaf) -> str:
        """The topic of one fixed leaf, e.g. `.../mood`."""
        return f"{self.base}/{leaf.value}"

    def command(self, name: str) -> str:
        """Where a command named `name` arrives."""
        return f"{self.base}/{COMMAND_LEVEL}/{name}"

    def command_result(self, name: str) -> str:
        """Where the result of command `name` is published."""
        return f"{self.command(name)}/{RESULT_LEVEL}"

    @property
    def command_filter(self) -> str:
        """Subscription filter for every command (does not match the result topics)."""
        return f"{self.base}/{COMMAND_LEVEL}/+"

    def command_name(self, topic: str) -> str | None:
        """The command name in a `.../cmd/<name>` topic, or None for any other topic."""
        head = f"{self.base}/{COMMAND_LEVEL}/"
        if not topic.startswith(head):
            return None
        name = topic[len(head) :]
        return name if name and "/" not in name else None
