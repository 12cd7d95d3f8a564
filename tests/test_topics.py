"""Topic building: one prefix, one place, and command names parsed strictly."""

from edge.events.topics import Leaf, Topics

TOPICS = Topics("moodsense/v1", "store-7", "kiosk-3")


def test_every_leaf_sits_under_the_device_base() -> None:
    """Consumers subscribe to `moodsense/v1/<site>/<device>/#` and must get everything."""
    assert TOPICS.leaf(Leaf.MOOD) == "moodsense/v1/store-7/kiosk-3/mood"
    assert TOPICS.command_result("ping") == "moodsense/v1/store-7/kiosk-3/cmd/ping/result"
    assert TOPICS.command_filter == "moodsense/v1/store-7/kiosk-3/cmd/+"


def test_command_names_are_read_only_from_this_devices_command_topics() -> None:
    """Results and other devices' commands must never be taken as commands."""
    assert TOPICS.command_name("moodsense/v1/store-7/kiosk-3/cmd/ping") == "ping"
    assert TOPICS.command_name("moodsense/v1/store-7/kiosk-3/cmd/ping/result") is None
    assert TOPICS.command_name("moodsense/v1/store-7/kiosk-4/cmd/ping") is None
    assert TOPICS.command_name("moodsense/v1/store-7/kiosk-3/cmd/") is None
